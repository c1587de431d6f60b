// Entry point: read /config.json (where the mirror is), then start the page.

import { App } from "./app.js";
import { Banners } from "./banners.js";
import { MirrorClient } from "./mirror_client.js";
import { TokenForm } from "./token_form.js";
import { takeTokenFromAddress } from "./token_store.js";

async function start() {
  takeTokenFromAddress();
  const banners = new Banners(document.getElementById("banners"));
  let config;
  try {
    const answer = await fetch("/config.json", { cache: "no-store" });
    config = await answer.json();
  } catch (error) {
    banners.error(`Cannot read /config.json: ${error.message}`);
    return;
  }
  const client = new MirrorClient(config.mirror_url);
  const app = new App(client, banners, config);
  new TokenForm(document.getElementById("token-form"), {
    changed: () => app.sync(),
    closeSession: () => client.closeSession(),
    forgotten: () => app.clear(),
  });
  await app.sync();
}

start();
