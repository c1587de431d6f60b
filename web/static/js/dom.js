// Building DOM nodes.  Text always goes in through textContent, never innerHTML: event data is
// untrusted (prompts, model output, command output) and must show as text.

export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const [name, value] of Object.entries(options.data || {})) node.dataset[name] = String(value);
  for (const child of children) if (child) node.append(child);
  return node;
}

export function setText(node, value) {
  const text = value === undefined || value === null ? "" : String(value);
  if (node.textContent !== text) node.textContent = text;
}

export function clear(node) {
  node.replaceChildren();
}

// A form sent by its submit button or by Ctrl+Enter (Cmd+Enter) in its text box.
export function onSend(form, textBox, send) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  textBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
}
