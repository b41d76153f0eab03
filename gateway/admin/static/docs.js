// The admin API reference, rendered from /openapi.json in the browser: no CDN, works offline.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function resolve(doc, schema) {
  if (schema && schema.$ref) return resolve(doc, schema.$ref.split("/").slice(1).reduce((o, k) => o[k], doc));
  return schema || {};
}

// A compact, readable outline of a JSON schema (object fields, types, constraints).
function outline(doc, schema, depth = 0) {
  schema = resolve(doc, schema);
  const pad = "  ".repeat(depth);
  if (schema.anyOf) return schema.anyOf.map((x) => outline(doc, x, depth).trim()).join(" | ");
  if (schema.type === "array") return `[${outline(doc, schema.items, depth).trim()}]`;
  if (schema.type === "object" || schema.properties) {
    if (depth > 3) return "{...}";
    const req = new Set(schema.required || []);
    const lines = Object.entries(schema.properties || {}).map(([k, v]) => {
      const r = resolve(doc, v);
      const note = [r.description, r.minimum !== undefined ? `>= ${r.minimum}` : null, r.maximum !== undefined ? `<= ${r.maximum}` : null,
        r.default !== undefined ? `default ${JSON.stringify(r.default)}` : null].filter(Boolean).join(", ");
      return `${pad}  ${k}${req.has(k) ? "" : "?"}: ${outline(doc, v, depth + 1).trim()}${note ? `   // ${note}` : ""}`;
    });
    if (schema.additionalProperties && typeof schema.additionalProperties === "object") lines.push(`${pad}  [key]: ${outline(doc, schema.additionalProperties, depth + 1).trim()}`);
    return `{\n${lines.join("\n")}\n${pad}}`;
  }
  if (schema.enum) return schema.enum.map((x) => JSON.stringify(x)).join(" | ");
  return schema.type || "any";
}

async function main() {
  const root = document.getElementById("docs");
  const doc = await (await fetch("/openapi.json")).json();
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [verb, op] of Object.entries(ops)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([verb.toUpperCase(), path, op]);
    }
  }
  const parts = [el("h1", {}, doc.info.title, " ", el("span", { class: "muted" }, `version ${doc.info.version}`)),
    el("pre", { class: "schema" }, doc.info.description || "")];
  parts.push(el("p", {}, "Tags: ", [...byTag.keys()].map((t) => [el("a", { href: `#tag-${t}` }, t), " "])));
  for (const [tag, ops] of byTag) {
    parts.push(el("h2", { id: `tag-${tag}` }, tag));
    for (const [verb, path, op] of ops) {
      const params = (op.parameters || []).map((p) => el("li", {}, el("code", {}, p.name), ` (${p.in}${p.required ? ", required" : ""}): ${outline(doc, p.schema).trim()}${p.description ? ` — ${p.description}` : ""}`));
      const body = op.requestBody?.content?.["application/json"]?.schema;
      parts.push(el("details", { class: "op", "data-path": path },
        el("summary", {}, el("span", { class: `verb ${verb}` }, verb), el("code", {}, path), el("span", { class: "muted" }, op.summary || "")),
        el("div", {},
          op.description ? el("p", {}, op.description) : null,
          params.length ? [el("h3", {}, "Parameters"), el("ul", {}, params)] : null,
          body ? [el("h3", {}, "JSON body"), el("pre", { class: "schema" }, outline(doc, body))] : null,
          el("h3", {}, "Responses"),
          el("ul", {}, Object.entries(op.responses || {}).map(([code, r]) => el("li", {}, el("code", {}, code), ` ${r.description || ""}`))))));
    }
  }
  root.replaceChildren(...parts.flat());
}

main().catch((err) => { document.getElementById("docs").textContent = `Cannot load /openapi.json: ${err}`; });
