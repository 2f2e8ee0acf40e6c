package org.searchapp.cluster;

import java.util.List;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.env.Environment;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A real OpenSearch node whose plugins come from the classpath instead of a plugins/ folder.
 *
 * <p>Node's plugin-taking constructor is protected, which is why this subclass exists: a
 * distribution installs its modules as folders, here Maven puts them on the classpath.
 */
final class ClasspathNode extends Node {

    /** Netty4 serves HTTP and the node-to-node transport; common analysis gives the stemmers,
     *  stop words and accent folding that searchapp's mapping asks for. */
    static final List<Class<? extends Plugin>> PLUGINS = List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);

    ClasspathNode(Environment environment) {
        // true: refuse private index settings from requests, as a distribution's node does.
        super(environment, PLUGINS, true);
    }
}
