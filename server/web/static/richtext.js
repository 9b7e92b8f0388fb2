// A tiny, safe renderer for the Markdown subset models use in chat replies:
// paragraphs, "-"/"*"/"1." lists, **bold**, `code` and ``` fenced blocks.
// It builds DOM nodes from text; nothing is ever parsed as HTML.

import { h } from "./ui.js";

/** Replace the children of `container` with `text` rendered as rich text. */
export function renderRichText(container, text) {
  container.replaceChildren(...blocks(text));
}

function blocks(text) {
  const out = [];
  const lines = text.split("\n");
  let paragraph = [];
  let list = null;

  const flushParagraph = () => {
    if (paragraph.length) out.push(h("p", {}, inline(paragraph.join("\n"))));
    paragraph = [];
  };
  const flushList = () => {
    if (list) out.push(list);
    list = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trimStart().startsWith("```")) {
      flushParagraph();
      flushList();
      const code = [];
      for (i += 1; i < lines.length && !lines[i].trimStart().startsWith("```"); i++) code.push(lines[i]);
      out.push(h("pre", { class: "code" }, h("code", {}, code.join("\n"))));
      continue;
    }
    const bullet = /^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/.exec(line);
    if (bullet) {
      flushParagraph();
      const tag = bullet[1] ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) {
        flushList();
        list = h(tag, bullet[1] && bullet[1] !== "1" ? { start: bullet[1] } : {});
      }
      list.append(h("li", {}, inline(bullet[2])));
      continue;
    }
    if (line.trim() === "") {
      flushParagraph();
      flushList();
      continue;
    }
    flushList();
    paragraph.push(line.replace(/^#{1,6}\s+/, ""));
  }
  flushParagraph();
  flushList();
  return out;
}

function inline(text) {
  const parts = [];
  const pattern = /\*\*([^*]+)\*\*|`([^`]+)`/g;
  let last = 0;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(match[1] !== undefined ? h("strong", {}, match[1]) : h("code", {}, match[2]));
    last = pattern.lastIndex;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}
