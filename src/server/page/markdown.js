// Markdown from the model, made into HTML that cannot run anything: marked parses it and
// shows raw HTML in the text as text (the model writes Markdown; its `<img onerror=…>` is
// never handed to an HTML parser — Chromium 156 tries a handler met while DOMPurify parses,
// and only the policy below stops it), DOMPurify keeps only plain content (no scripts,
// event handlers, styles, forms, frames, or `javascript:` links), links open elsewhere
// without a referrer, and highlight.js colours code blocks (it escapes what it reads). The
// Content-Security-Policy stands behind all of this: no inline script would run even if
// one got through.

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "svg", "math"],
  FORBID_ATTR: ["style", "srcset"],
  ALLOW_DATA_ATTR: false,
};

let hooked = false;

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function hook() {
  if (hooked) return;
  hooked = true;
  window.marked.use({ renderer: { html: (token) => escapeHtml(token.text) } });
  window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    // An image in an answer would make the browser fetch what the model named (with the
    // page's login, from this server): only images carried in the text itself show.
    if (node.tagName === "IMG" && !/^data:image\//i.test(node.getAttribute("src") || "")) {
      node.replaceWith(document.createTextNode(node.getAttribute("alt") || "[image]"));
    }
  });
}

/// Renders `text` as Markdown into `container`, replacing what was there.
export function renderMarkdown(container, text) {
  if (!window.marked || !window.DOMPurify) {
    container.textContent = text;
    return;
  }
  hook();
  const html = window.marked.parse(text, { gfm: true, breaks: false, async: false });
  container.innerHTML = window.DOMPurify.sanitize(html, PURIFY);
  if (window.hljs) {
    for (const block of container.querySelectorAll("pre code")) {
      window.hljs.highlightElement(block);
    }
  }
}

/// A search hit's snippet as nodes, its matches marked: the index marks them with the
/// control characters U+0002 and U+0003; a hit found by meaning alone has none, and then
/// the query's words are marked.
export function markedSnippet(snippet, query) {
  if (!snippet.includes("\u0002")) return highlightWords(snippet, query);
  const nodes = [];
  for (const [index, part] of snippet.split(/[\u0002\u0003]/).entries()) {
    if (!part) continue;
    if (index % 2 === 1) {
      const mark = document.createElement("mark");
      mark.textContent = part;
      nodes.push(mark);
    } else {
      nodes.push(document.createTextNode(part));
    }
  }
  return nodes;
}

/// `text` with the words of `query` marked, as nodes (never HTML).
export function highlightWords(text, query) {
  const words = (query || "")
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word.length > 1);
  const nodes = [];
  const lower = text.toLowerCase();
  let at = 0;
  while (at < text.length) {
    let next = -1;
    let length = 0;
    for (const word of words) {
      const found = lower.indexOf(word, at);
      if (found >= 0 && (next < 0 || found < next)) {
        next = found;
        length = word.length;
      }
    }
    if (next < 0) {
      nodes.push(document.createTextNode(text.slice(at)));
      break;
    }
    if (next > at) nodes.push(document.createTextNode(text.slice(at, next)));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(next, next + length);
    nodes.push(mark);
    at = next + length;
  }
  return nodes;
}
