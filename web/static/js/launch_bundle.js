// The agents bundle of a launch (files written into every node's workspace): AGENTS.md and skills.
// The router allows at most MAX_FILES files and paths inside the workspace (router/bundle_checks.py).

export const MAX_FILES = 64;

// { "AGENTS.md": text, "skills/<name>": text, ... } or null when nothing was chosen.
export async function readBundle(agentsFiles, skillFiles) {
  const bundle = {};
  if (agentsFiles && agentsFiles.length) bundle["AGENTS.md"] = await agentsFiles[0].text();
  for (const file of skillFiles || []) {
    const name = (file.webkitRelativePath || file.name).replace(/^\/+/, "");
    if (name.split("/").includes("..")) throw new Error(`skill file ${name} would leave the workspace`);
    bundle[`skills/${name}`] = await file.text();
  }
  const count = Object.keys(bundle).length;
  if (count > MAX_FILES) throw new Error(`${count} bundle files chosen; the router takes at most ${MAX_FILES}`);
  return count ? bundle : null;
}
