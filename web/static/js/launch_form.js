// The launch form: node count, provider and runtime from GET /v1/providers, the provider's own
// launch fields, and the swarm's alias.

import { clear, el } from "./dom.js";

function fieldInput(field) {
  const value = field.default;
  if (field.type === "boolean") {
    return el("input", { attrs: { type: "checkbox", checked: Boolean(value) } });
  }
  if (field.type === "choice") {
    const select = el("select");
    for (const option of field.options || []) select.append(el("option", { text: option, attrs: { value: option } }));
    if (value !== null && value !== undefined) select.value = String(value);
    return select;
  }
  const input = el("input", { attrs: { type: field.type === "integer" ? "number" : "text", required: field.required } });
  if (value !== null && value !== undefined) input.value = String(value);
  return input;
}

function fieldValue(field, input) {
  if (field.type === "boolean") return input.checked;
  if (input.value === "") return undefined;
  return field.type === "integer" ? Number(input.value) : input.value;
}

export class LaunchForm {
  // launch(body) → Promise
  constructor(form, launch) {
    this.form = form;
    this.launch = launch;
    this.nodes = form.querySelector("#launch-nodes");
    this.provider = form.querySelector("#launch-provider");
    this.runtime = form.querySelector("#launch-runtime");
    this.alias = form.querySelector("#launch-alias");
    this.fields = form.querySelector("#launch-fields");
    this.submit = form.querySelector("#launch-submit");
    this.providers = [];
    this.inputs = [];
    this.provider.addEventListener("change", () => this.showProvider());
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
    clear(this.runtime);
    clear(this.fields);
    this.inputs = [];
    if (!provider) return;
    if (provider.max_nodes) this.nodes.max = String(provider.max_nodes);
    for (const runtime of provider.runtimes || []) this.runtime.append(el("option", { text: runtime, attrs: { value: runtime } }));
    if (provider.defaults && provider.defaults.runtime) this.runtime.value = provider.defaults.runtime;
    for (const field of provider.launch_fields || []) {
      if (field.key === "runtime") continue;
      const input = fieldInput(field);
      input.dataset.key = field.key;
      if (field.description) input.title = field.description;
      this.inputs.push({ field, input });
      this.fields.append(el("label", {}, [document.createTextNode(`${field.label} `), input]));
    }
  }

  body() {
    const body = { nodes: Number(this.nodes.value) };
    if (this.provider.value) body.provider = this.provider.value;
    if (this.runtime.value) body.runtime = this.runtime.value;
    if (this.alias.value.trim()) body.alias = this.alias.value.trim();
    const params = {};
    for (const { field, input } of this.inputs) {
      const value = fieldValue(field, input);
      if (value !== undefined && value !== field.default) params[field.key] = value;
    }
    if (Object.keys(params).length) body.provider_params = params;
    return body;
  }

  async send() {
    this.submit.disabled = true;
    try {
      await this.launch(this.body());
    } finally {
      this.submit.disabled = false;
    }
  }
}
