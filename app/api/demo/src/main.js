// The demo page: a reader who deposits without gas, authorises a session key once and pays per
// article with no wallet prompt; a creator who watches settlement and withdraws. Everything goes
// through the public API (api.js) and the user's own wallet (wallet.js).
//
//   state.js    what the page knows          view.js     renders it, wires the gestures
//   actions.js  loads, follows, acts          queries.js  the GraphQL documents

import { start } from "./actions.js";
import { mount } from "./view.js";

mount();
start();
