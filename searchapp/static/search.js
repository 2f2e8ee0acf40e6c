// Search as you type: completions for the word being typed, and results that follow the
// query. The page works the same without this script; it only saves the reader a submit.
// The results are the page's own, rendered by the server for the query typed so far
// (`live=1`: the last word is the start of a word, and the search is not counted as a
// reader's): the script takes them out of that page with DOMParser, which runs nothing,
// so the live view shows exactly what submitting would, notices, timeline and paging too.
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
    inflight = new AbortController();
    const signal = inflight.signal;
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value && !(name === "sort" && value === "relevance")) params.set(name, value);
    }
    if (query.trim()) params.set("q", query);
    else params.delete("q");
    params.delete("page");  // a new query starts on its first page
    const live = new URLSearchParams(params);
    live.set("live", "1");
    try {
      const [completions, page] = await Promise.all([
        query.trim() ? getJSON("/api/suggest?" + new URLSearchParams({ q: query }), signal) : null,
        getPage("/?" + live, signal),
      ]);
      showCompletions(completions);
      if (page) show(page, params);
    } catch (error) {
      if (error.name !== "AbortError") console.warn("live search failed:", error);
    }
  }

  async function getJSON(url, signal) {
    const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
    return response.ok ? response.json() : null;
  }

  // The results page for the query, parsed but never run; null if it has no results part.
  async function getPage(url, signal) {
    const response = await fetch(url, { signal, headers: { Accept: "text/html" } });
    const type = response.headers.get("Content-Type") || "";
    if (!type.startsWith("text/html")) return null;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    return page.getElementById("live-results") ? page : null;
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

  function show(page, params) {
    const fresh = page.getElementById("live-results");
    region.replaceChildren(...Array.from(fresh.childNodes).map((node) => document.adoptNode(node)));
    document.title = page.title;
    // Screen readers hear the new count only (the region itself is not live).
    const freshStatus = page.getElementById("results-status");
    if (status && freshStatus) status.textContent = freshStatus.textContent;
    // The feed link in the head follows the query too.
    const feed = document.querySelector("link[rel=alternate][type='application/atom+xml']");
    const freshFeed = page.querySelector("link[rel=alternate][type='application/atom+xml']");
    if (feed && freshFeed) feed.href = freshFeed.getAttribute("href");
    else if (feed) feed.remove();
    else if (freshFeed) document.head.appendChild(document.adoptNode(freshFeed));
    const address = params.toString();
    history.replaceState(null, "", address ? "/?" + address : "/");
  }
})();
