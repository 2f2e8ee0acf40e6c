// Search as you type: completions for the word being typed, and results that follow the
// query. The page works the same without this script; it only saves the reader a submit.
// Everything from the server is put on the page as text, never parsed as HTML.
"use strict";

(() => {
  const DELAY_MS = 200;
  const form = document.querySelector("form[role=search]");
  const box = form && form.querySelector("input[name=q]");
  const region = document.getElementById("live-results");
  const status = document.getElementById("results-status");
  if (!box || !region) return;

  const list = document.createElement("datalist");
  list.id = "q-completions";
  form.appendChild(list);
  box.setAttribute("list", list.id);

  let timer = 0;
  let inflight = null;

  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, DELAY_MS);
  });

  async function update() {
    const query = box.value;
    if (inflight) inflight.abort();  // a newer keystroke makes older answers stale
    if (!query.trim()) return;
    inflight = new AbortController();
    const signal = inflight.signal;
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value && !(name === "sort" && value === "relevance")) params.set(name, value);
    }
    params.set("q", query);
    try {
      const [completions, results] = await Promise.all([
        getJSON("/api/suggest?" + new URLSearchParams({ q: query }), signal),
        getJSON("/api/search?" + params, signal),
      ]);
      showCompletions(completions);
      if (results && results.results) {
        history.replaceState(null, "", "/?" + params);
        showResults(results);
      }
    } catch (error) {
      if (error.name !== "AbortError") console.warn("live search failed:", error);
    }
  }

  async function getJSON(url, signal) {
    const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
    return response.ok ? response.json() : null;
  }

  function showCompletions(completions) {
    list.replaceChildren();
    if (!Array.isArray(completions) || !Array.isArray(completions[1])) return;
    for (const completion of completions[1]) {
      const option = document.createElement("option");
      option.value = completion;
      list.appendChild(option);
    }
  }

  function showResults(data) {
    const title = element("h1", "results-summary",
      data.total ? `${data.total.toLocaleString("en")} result${data.total === 1 ? "" : "s"}` : "No results");
    title.id = "results-title";
    title.appendChild(element("span", "muted", ` (${Math.round(data.took_ms)} ms)`));
    const parts = [title];
    if (data.suggestion) {
      const p = element("p", "suggestion", "Did you mean ");
      const link = element("a", "", data.suggestion);
      link.href = "/?" + new URLSearchParams({ q: data.suggestion });
      p.append(link, "?");
      parts.push(p);
    }
    const ol = element("ol", "results");
    for (const hit of data.results) {
      const li = element("li", "result");
      const article = document.createElement("article");
      const h2 = document.createElement("h2");
      const link = element("a", "", hit.headline || "Untitled");
      link.href = hit.url + location.search;  // the article page marks the search and links back
      h2.appendChild(link);
      const meta = element("p", "meta");
      if (hit.date) {
        const time = element("time", "", hit.date);
        time.dateTime = hit.date;
        meta.appendChild(time);
      } else {
        meta.textContent = "Undated";
      }
      article.append(h2, meta, snippet(hit.snippet));
      li.appendChild(article);
      ol.appendChild(li);
    }
    parts.push(ol);
    if (data.pages > 1) {
      const more = element("p", "more");
      const link = element("a", "", "More results →");
      link.href = "/?" + new URLSearchParams({ q: data.query, page: 2 });
      more.appendChild(link);
      parts.push(more);
    }
    region.replaceChildren(...parts);
    if (status) status.textContent = `${data.total.toLocaleString("en")} result${data.total === 1 ? "" : "s"} for ${data.query}`;
  }

  // The API's snippet is escaped text with <mark> tags: rebuild it from text nodes.
  function snippet(html) {
    const p = element("p", "snippet");
    html.split(/(<mark>|<\/mark>)/).reduce((marked, piece) => {
      if (piece === "<mark>") return true;
      if (piece === "</mark>") return false;
      const text = unescape(piece);
      if (text) p.appendChild(marked ? element("mark", "", text) : document.createTextNode(text));
      return marked;
    }, false);
    return p;
  }

  function unescape(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }
})();
