// "Terminate swarm X?" — confirmation, with the choice to archive the workspaces for download.

import { el } from "./dom.js";

export class TerminateDialog {
  constructor() {
    this.download = el("input", { className: "terminate-download", attrs: { type: "checkbox" } });
    this.question = el("p", { className: "terminate-question" });
    this.confirm = el("button", { className: "terminate-confirm danger", text: "Terminate", attrs: { type: "submit", value: "terminate" } });
    const cancel = el("button", { className: "terminate-cancel", text: "Cancel", attrs: { type: "submit", value: "cancel" } });
    this.root = el("dialog", { className: "terminate-dialog", attrs: { "aria-label": "terminate swarm" } }, [
      el("form", { attrs: { method: "dialog" } }, [
        this.question,
        el("label", {}, [this.download, document.createTextNode(" archive the workspaces for download first")]),
        el("div", { className: "dialog-actions" }, [cancel, this.confirm]),
      ]),
    ]);
    document.body.append(this.root);
  }

  // Resolves with null (cancelled) or { download_workspaces }.
  ask(swarmLabel, nodeCount) {
    this.question.textContent = `Terminate swarm ${swarmLabel}? Its ${nodeCount} node programs stop and running turns are lost.`;
    this.confirm.setAttribute("aria-label", `terminate swarm ${swarmLabel}`);
    this.download.checked = false;
    this.root.returnValue = "";
    this.root.showModal();
    return new Promise((resolve) => {
      this.root.addEventListener(
        "close",
        () => resolve(this.root.returnValue === "terminate" ? { download_workspaces: this.download.checked } : null),
        { once: true },
      );
    });
  }
}
