// Renders the API reference from openapi.json (the repo's openapi.yaml,
// converted at build time), with a "try it" form for every operation.
"use strict";
(async () => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };

  let spec;
  try {
    const response = await fetch("/static/openapi.json");
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    spec = await response.json();
  } catch (e) {
    $("error").textContent = "The API description could not be loaded: " + e.message;
    $("error").hidden = false;
    return;
  }
  $("intro").textContent = spec.info.description;

  const resolve = (node) => {
    while (node && node.$ref) {
      node = node.$ref.replace(/^#\//, "").split("/").reduce((at, key) => at[key], spec);
    }
    return node;
  };
  const refName = (node) => (node && node.$ref ? node.$ref.split("/").pop() : "");

  // A value that fits the schema, for the examples.
  const samples = { name: "joe", subject: "Hello", story: "A quick brown fox.", occurred: "2026-11-24",
    from: "/participant/1", to: "/participant/2", link: "/participant/1", error: "what was wrong, for a person" };
  function example(schema, key) {
    const name = refName(schema);
    schema = resolve(schema) || {};
    if (name === "Link") return samples[key] || "/participant/1";
    if (name === "Occurred") return samples.occurred;
    if (schema.type === "array") return [example(schema.items, key)];
    if (schema.type === "object") {
      const out = {};
      for (const [prop, sub] of Object.entries(schema.properties || {})) out[prop] = example(sub, prop);
      return out;
    }
    if (schema.type === "integer") return schema.default || schema.minimum || 1;
    return key in samples ? samples[key] : "text";
  }
  // A request body example: the required fields only.
  function bodyExample(schema) {
    const full = example(schema);
    const required = (resolve(schema) || {}).required || Object.keys(full);
    return Object.fromEntries(required.map((key) => [key, full[key]]));
  }
  const describe = (schema) => {
    const name = refName(schema);
    schema = resolve(schema) || {};
    if (schema.type === "array") return `array of ${describe(schema.items)}`;
    const bounds = [];
    if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
    if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
    if (schema.default !== undefined) bounds.push(`default ${schema.default}`);
    return (name || schema.type || "any") + (bounds.length ? ` (${bounds.join(", ")})` : "");
  };

  function paramsTable(params) {
    const rows = params.map((p) => el("tr", {},
      el("td", {}, el("code", { textContent: p.name })), el("td", { textContent: p.in }),
      el("td", { textContent: p.required ? "yes" : "no" }), el("td", { textContent: describe(p.schema) }),
      el("td", { textContent: p.description || "" })));
    return el("div", { className: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["name", "in", "required", "type", "description"].map((h) => el("th", { textContent: h })))),
      el("tbody", {}, ...rows)));
  }

  // The schema of an answer's body: its JSON one, else its only media type's
  // (`/openapi.yaml` answers YAML).
  function mediaSchema(answer) {
    const media = answer.content && (answer.content["application/json"] || Object.values(answer.content)[0]);
    return media && media.schema;
  }

  function operation(path, method, op, shared) {
    const id = op.operationId;
    const params = [...shared, ...(op.parameters || [])].map(resolve);
    const body = op.requestBody && op.requestBody.content["application/json"].schema;
    const section = el("section", { id });
    section.append(el("h2", {}, el("span", { className: `method ${method}`, textContent: method.toUpperCase() }),
      el("code", { textContent: path }), el("span", { className: "muted", textContent: `  ${id}` })));
    if (op.description) section.append(el("p", { textContent: op.description }));
    if (params.length) section.append(el("h3", { textContent: "Parameters" }), paramsTable(params));
    if (body) {
      section.append(el("h3", { textContent: `Body: ${describe(body)}` }),
        el("pre", { textContent: JSON.stringify(bodyExample(body), null, 2) }));
    }
    section.append(el("h3", { textContent: "Answers" }));
    const answers = Object.entries(op.responses).map(([status, answer]) => {
      answer = resolve(answer);
      const schema = mediaSchema(answer);
      return el("tr", {}, el("td", { textContent: status }), el("td", { textContent: answer.description }),
        el("td", { textContent: schema ? describe(schema) : "" }));
    });
    section.append(el("div", { className: "table-wrap" }, el("table", {}, el("tbody", {}, ...answers))));
    const ok = resolve(op.responses["200"]);
    section.append(el("h3", { textContent: "Example answer (200)" }),
      el("pre", { textContent: ok.content && ok.content["application/json"]
        ? JSON.stringify(example(ok.content["application/json"].schema), null, 2)
        : Object.keys(ok.content || {}).join(", ") || "no body" }));

    // Try it: fill in the parameters (and body) and send the real request.
    const form = el("form", { id: `try-${id}` });
    const inputs = params.map((p) => {
      const input = el("input", { name: p.name, required: !!p.required, autocomplete: "off",
        value: p.in === "path" ? "1" : p.name === "keywords" ? "fox" : "" });
      input.dataset.in = p.in;
      form.append(el("label", {}, `${p.name} (${p.in})`, input));
      return input;
    });
    let bodyInput = null;
    if (body) {
      bodyInput = el("textarea", { name: "body", value: JSON.stringify(bodyExample(body), null, 2) });
      form.append(el("label", {}, "body (JSON)", bodyInput));
    }
    form.append(el("button", { textContent: `Send ${method.toUpperCase()}` }));
    const result = el("pre", { id: `result-${id}`, hidden: true });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      for (const input of inputs) {
        if (input.dataset.in === "path") url = url.replace(`{${input.name}}`, encodeURIComponent(input.value));
        else if (input.value !== "") query.set(input.name, input.value);
      }
      if ([...query].length) url += `?${query}`;
      const init = { method: method.toUpperCase() };
      if (bodyInput) {
        init.body = bodyInput.value;
        init.headers = { "content-type": "application/json" };
      }
      result.hidden = false;
      result.textContent = `${init.method} ${url}\n…`;
      try {
        const response = await fetch(url, init);
        const text = await response.text();
        let shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: shown as sent */ }
        result.textContent = `${init.method} ${url}\n${response.status} ${response.statusText}\n${shown}`;
      } catch (e) {
        result.textContent = `${init.method} ${url}\nno answer: ${e.message}`;
      }
    });
    section.append(el("h3", { textContent: "Try it" }), form, result);
    return section;
  }

  const sections = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of ["get", "post", "put", "delete"]) {
      if (item[method]) sections.push(operation(path, method, item[method], item.parameters || []));
    }
  }
  const index = el("section", {}, el("h2", { textContent: "Operations" }),
    el("ul", {}, ...sections.map((s) => el("li", {}, el("a", { href: `#${s.id}`, textContent: s.querySelector("h2").textContent })))));
  $("operations").replaceChildren(index, ...sections);
})();
