package org.searchapp.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;

/**
 * Runs one node until the JVM is told to stop (SIGTERM or SIGINT closes it cleanly).
 *
 * <p>Usage: {@code java -cp ... org.searchapp.cluster.NodeMain NODE_HOME}; the node reads
 * {@code NODE_HOME/config/opensearch.yml} and {@code log4j2.properties}, which
 * tools/opensearch-cluster writes there; the latter sends log lines to standard output.
 *
 * <p>With {@code -Dsearchapp.owner.pid=PID} the node also stops by itself once process PID is
 * gone, so a test session that dies without cleaning up leaves no node behind.
 */
public final class NodeMain {

    private static final long CLOSE_TIMEOUT_SECONDS = 20;
    private static final long OWNER_POLL_MILLIS = 2000;

    private NodeMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: NodeMain NODE_HOME (a folder with config/opensearch.yml)");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Path config = home.resolve("config");
        if (!Files.isRegularFile(config.resolve("opensearch.yml"))) {
            System.err.println("no " + config.resolve("opensearch.yml"));
            System.exit(2);
        }

        Settings initial = Settings.builder().put("path.home", home.toString()).build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(initial, Map.of(), config, () -> home.getFileName().toString());
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);

        Node node = new ClasspathNode(environment);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "searchapp-node-close"));

        node.start();
        watchOwner(System.getProperty("searchapp.owner.pid"));
        // The node's own threads may all be daemons: hold the JVM open until it is told to stop.
        closed.await();
    }

    /** Exit (which closes the node through the shutdown hook) once the owner process ends. */
    private static void watchOwner(String ownerPid) {
        if (ownerPid == null || ownerPid.isBlank()) {
            return;
        }
        long pid = Long.parseLong(ownerPid.trim());
        Thread watcher = new Thread(() -> {
            while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                try {
                    Thread.sleep(OWNER_POLL_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.out.println("owner process " + pid + " is gone: stopping");
            System.exit(0);
        }, "searchapp-owner-watch");
        watcher.setDaemon(true);
        watcher.start();
    }
}
