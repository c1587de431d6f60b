// The launch form: node count, provider and runtime from GET /v1/providers, the provider's launch
// fields and the runtime's params with their defaults filled in and their patterns checked by the
// browser, alias, system prompt, AGENTS.md and skills (the agents bundle, within the server's limits).

import { clear, el, setText } from "./dom.js";
import { readBundle } from "./launch_bundle.js";

// An HTML pattern is anchored already and compiled with the `v` flag; the server's is a Python regex.
function htmlPattern(pattern) {
  if (!pattern) return undefined;
  const bare = pattern.replace(/^\^/, "").replace(/\$$/, "");
  try {
    new RegExp(`^(?:${bare})$`, "v");
    return bare;
  } catch {
    return undefined; // the server still checks it
  }
}

function fieldInput(field) {
  const value = field.default;
  if (field.type === "boolean") return el("input", { attrs: { type: "checkbox", checked: Boolean(value) } });
  if (field.type === "choice") {
    const select = el("select");
    for (const option of field.options || []) select.append(el("option", { text: option, attrs: { value: option } }));
    if (value !== null && value !== undefined) select.value = String(value);
    return select;
  }
  const input = el("input", {
    attrs: { type: field.type === "integer" ? "number" : "text", required: field.required, pattern: htmlPattern(field.pattern) },
  });
  if (value !== null && value !== undefined) input.value = String(value);
  return input;
}

function fieldValue(field, input) {
  if (field.type === "boolean") return input.checked;
  if (input.value === "") return undefined;
  return field.type === "integer" ? Number(input.value) : input.value;
}

// The values the user set that differ from the field's default (the server fills in the rest).
function changedValues(inputs) {
  const values = {};
  for (const { field, input } of inputs) {
    const value = fieldValue(field, input);
    if (value !== undefined && value !== field.default) values[field.key] = value;
  }
  return values;
}

export class LaunchForm {
  // launch(body) → Promise; limits: { maxBodyBytes }
  constructor(form, launch, limits) {
    this.form = form;
    this.launch = launch;
    this.limits = limits;
    this.nodes = form.querySelector("#launch-nodes");
    this.provider = form.querySelector("#launch-provider");
    this.runtime = form.querySelector("#launch-runtime");
    this.alias = form.querySelector("#launch-alias");
    this.systemPrompt = form.querySelector("#launch-system-prompt");
    this.agentsFile = form.querySelector("#launch-agents");
    this.skillFiles = form.querySelector("#launch-skills");
    this.fields = form.querySelector("#launch-fields");
    this.runtimeFields = form.querySelector("#launch-runtime-fields");
    this.submit = form.querySelector("#launch-submit");
    this.problem = form.querySelector("#launch-problem");
    this.providers = [];
    this.inputs = [];
    this.runtimeInputs = [];
    this.provider.addEventListener("change", () => this.showProvider());
    this.runtime.addEventListener("change", () => this.showRuntime());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  setProviders(providers) {
    const chosen = this.provider.value;
    this.providers = providers;
    clear(this.provider);
    for (const provider of providers) {
      this.provider.append(el("option", { text: `${provider.label} (${provider.id})`, attrs: { value: provider.id } }));
    }
    if (providers.some((provider) => provider.id === chosen)) this.provider.value = chosen;
    this.showProvider();
  }

  current() {
    return this.providers.find((provider) => provider.id === this.provider.value);
  }

  showProvider() {
    const provider = this.current();
    const runtime = this.runtime.value;
    clear(this.runtime);
    clear(this.fields);
    this.inputs = [];
    if (!provider) return;
    if (provider.max_nodes) this.nodes.max = String(provider.max_nodes);
    for (const name of provider.runtimes || []) this.runtime.append(el("option", { text: name, attrs: { value: name } }));
    if ((provider.runtimes || []).includes(runtime)) this.runtime.value = runtime;
    else if (provider.defaults && provider.defaults.runtime) this.runtime.value = provider.defaults.runtime;
    const defaults = provider.defaults || {};
    const fields = (provider.launch_fields || [])
      .filter((field) => field.key !== "runtime")
      .map((field) => (field.default === null || field.default === undefined ? { ...field, default: defaults[field.key] } : field));
    this.inputs = this.showFields(this.fields, fields);
    this.showRuntime();
  }

  showRuntime() {
    const provider = this.current();
    const fields = (provider && provider.runtime_fields && provider.runtime_fields[this.runtime.value]) || [];
    this.runtimeInputs = this.showFields(this.runtimeFields, fields);
  }

  showFields(container, fields) {
    clear(container);
    container.parentElement.hidden = fields.length === 0;
    return fields.map((field) => {
      const input = fieldInput(field);
      input.dataset.key = field.key;
      input.name = `field-${field.key}`;
      const label = field.label && field.label.length <= 30 ? field.label : field.key;
      input.title = field.description || (label === field.key ? field.label || "" : "");
      container.append(el("label", {}, [document.createTextNode(`${label} `), input]));
      return { field, input };
    });
  }

  async body() {
    const body = { nodes: Number(this.nodes.value) };
    if (this.provider.value) body.provider = this.provider.value;
    if (this.runtime.value) body.runtime = this.runtime.value;
    if (this.alias.value.trim()) body.alias = this.alias.value.trim();
    if (this.systemPrompt.value.trim()) body.system_prompt = this.systemPrompt.value;
    const params = changedValues(this.inputs);
    if (Object.keys(params).length) body.provider_params = params;
    const runtimeParams = changedValues(this.runtimeInputs);
    if (Object.keys(runtimeParams).length) body.runtime_params = runtimeParams;
    const bundle = await readBundle(this.agentsFile.files, this.skillFiles.files);
    if (bundle) body.agents_bundle = bundle;
    const size = new Blob([JSON.stringify(body)]).size;
    if (size > this.limits.maxBodyBytes) {
      throw new Error(`the launch request is ${size.toLocaleString("en-US")} bytes; the server takes at most ${this.limits.maxBodyBytes.toLocaleString("en-US")}`);
    }
    return body;
  }

  async send() {
    setText(this.problem, "");
    let body;
    try {
      body = await this.body();
    } catch (error) {
      setText(this.problem, error.message);
      return;
    }
    this.submit.disabled = true;
    try {
      await this.launch(body);
    } finally {
      this.submit.disabled = false;
    }
  }
}
