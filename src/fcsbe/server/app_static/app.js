// The EV user's phone app: trades a personal link for a token, then reads and changes only
// this user's consent and limits through /v1/ev-user. No framework, no build step.
"use strict";

const TOKEN_KEY = "fcsbe-ev-user-token";
const FIELDS = ["min_soc_at_departure_pct", "soc_floor_pct", "max_energy_to_grid_kwh_per_day"];
const LEVELS = { NONE: "Nothing", V1G: "Smart charging only (V1G)", V2G: "Smart charging and giving back (V2G)" };
const $ = (id) => document.getElementById(id);

function say(text, bad) {
  const status = $("status");
  status.textContent = text;
  status.className = bad ? "bad" : "";
}

async function call(method, path, body, token) {
  const headers = { accept: "application/json" };
  const auth = token || localStorage.getItem(TOKEN_KEY);
  if (auth) headers.authorization = "Bearer " + auth;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.detail || data.title || "Something went wrong (" + response.status + ").");
    error.status = response.status;
    error.problem = data;
    throw error;
  }
  return data;
}

async function exchangeInvite() {
  const match = /invite=([^&]+)/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname); // the code must not stay in the address bar
  try {
    const token = await call("POST", "/v1/ev-user/token", undefined, decodeURIComponent(match[1]));
    localStorage.setItem(TOKEN_KEY, token.access_token);
    say("Welcome! Your link is now used up; this page remembers you.");
  } catch (error) {
    say(error.status === 410 ? "This link was already used or has expired. Ask your charging provider for a new one." : error.message, true);
  }
}

function showProfile(profile) {
  $("consent-now").textContent = LEVELS[profile.consent_level];
  const n = profile.connected_sessions;
  $("sessions-now").textContent = n ? " · car connected now" : "";
  for (const radio of document.querySelectorAll("input[name=level]")) radio.checked = radio.value === profile.consent_level;
  for (const field of FIELDS) $(field).value = profile.limits[field];
  $("withdraw").disabled = profile.consent_level === "NONE";
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" }).format(amount);
  } catch (_e) {
    return amount.toFixed(2) + " " + (currency || "");
  }
}

function showHistory(items) {
  const list = $("history");
  list.replaceChildren();
  $("history-empty").hidden = items.length > 0;
  for (const item of items) {
    const li = document.createElement("li");
    const what = document.createElement("span");
    what.className = "what";
    what.textContent = item.fs_type.replaceAll("_", " ").toLowerCase() + " · " + new Date(item.start).toLocaleString();
    const detail = document.createElement("span");
    detail.textContent = "charged " + (item.energy_charged_wh / 1000).toFixed(1) + " kWh, gave back " +
      (item.energy_injected_wh / 1000).toFixed(1) + " kWh, earned " + money(item.remuneration, item.currency);
    li.append(what, detail);
    list.append(li);
  }
}

async function load() {
  const profile = await call("GET", "/v1/ev-user/self");
  showProfile(profile);
  showHistory(await call("GET", "/v1/ev-user/self/participations"));
  $("signed-in").hidden = false;
  $("signed-out").hidden = true;
}

function clearErrors() {
  for (const field of FIELDS) {
    $(field).removeAttribute("aria-invalid");
    $(field + "-error").textContent = "";
  }
}

function showFieldErrors(problem) {
  let first = null;
  for (const error of problem.errors || []) {
    const field = FIELDS.find((f) => (error.pointer || "").endsWith("/" + f));
    if (!field) continue;
    $(field).setAttribute("aria-invalid", "true");
    $(field + "-error").textContent = error.detail;
    first = first || field;
  }
  if (first) $(first).focus();
}

async function saveLimits(event) {
  event.preventDefault();
  clearErrors();
  const body = {};
  for (const field of FIELDS) body[field] = Number($(field).value);
  try {
    showProfile(await call("PUT", "/v1/ev-user/self/limits", body));
    say("Your limits are saved and apply now.");
  } catch (error) {
    if (error.problem) showFieldErrors(error.problem);
    say("Not saved: " + error.message, true);
  }
}

async function saveConsent(event) {
  event.preventDefault();
  const chosen = document.querySelector("input[name=level]:checked");
  if (!chosen) return;
  try {
    showProfile(await call("PUT", "/v1/ev-user/self/consent", { level: chosen.value }));
    say("Your choice is saved and applies now.");
  } catch (error) {
    say("Not saved: " + error.message, true);
  }
}

async function withdraw() {
  try {
    showProfile(await call("POST", "/v1/ev-user/self/withdrawal"));
    say("Consent withdrawn. Your car no longer takes part.");
  } catch (error) {
    say("Not withdrawn: " + error.message, true);
  }
}

async function main() {
  $("limits-form").addEventListener("submit", saveLimits);
  $("consent-form").addEventListener("submit", saveConsent);
  $("withdraw").addEventListener("click", withdraw);
  await exchangeInvite();
  if (!localStorage.getItem(TOKEN_KEY)) {
    $("signed-out").hidden = false;
    return;
  }
  try {
    await load();
  } catch (error) {
    if (error.status === 401) localStorage.removeItem(TOKEN_KEY);
    $("signed-out").hidden = false;
    say(error.message, true);
  }
}

main();
