// What the page shows, kept in the address: #/swarm/<id>, #/swarm/<id>/node/<n>, #/launch.
// A reload (or a shared link) opens the same swarm and node.

export class Route {
  // changed() when the user navigates (back/forward, a link, a typed address)
  constructor(changed) {
    window.addEventListener("hashchange", changed);
  }

  current() {
    const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
    if (hash === "launch") return { swarmId: null, nodeId: null, launch: true };
    const match = /^swarm\/([^/]+)(?:\/node\/(\d+))?$/.exec(hash);
    if (!match) return { swarmId: null, nodeId: null, launch: false };
    return { swarmId: match[1], nodeId: match[2] === undefined ? null : Number(match[2]), launch: false };
  }

  go(swarmId) {
    location.hash = swarmId ? `#/swarm/${encodeURIComponent(swarmId)}` : "#/launch";
  }

  // Record the focused node without navigating again.
  setNode(swarmId, nodeId) {
    const base = `#/swarm/${encodeURIComponent(swarmId)}`;
    history.replaceState(null, "", nodeId === null ? base : `${base}/node/${nodeId}`);
  }
}
