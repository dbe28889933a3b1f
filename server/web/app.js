// orderdesk console: a small single-page app over the public API (no build step).
import { api, ApiError, listen } from "./api.js";
import { purchaseStatusName, statusName, t } from "./i18n.js";
import { VOCABULARY } from "./vocabulary.js";
import { appendLine, attachControl, isUploadedPdf, uploadThumb } from "./uploads.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const PAGE_SIZE = 10;
let me = null; // the signed-in user, or null
let stopListening = () => {}; // the shown view's live events

// ---------------------------------------------------------------- safe links

// The only stored strings that may become a link or an image source: the server's
// rule for image lists, checked here again so that nothing stored before
// the rule, or written past the API, is ever followed. Anything else stays text.
const UPLOAD_PATH = /^\/uploads\/(?:thumb\/)?[A-Za-z0-9_-]+\.[A-Za-z0-9]{1,10}$/;
// http(s), two slashes, then a host as written: no percent-escapes, no extra slash.
const WEB_URL = /^https?:\/\/[^/?#%]+(?:[/?#]|$)/i;
const NOT_IN_URLS = /[\s\p{Cc}\p{Cf}<>"\\^`{|}]/u;

export function safeUrl(text) {
  if (typeof text !== "string") return null;
  if (UPLOAD_PATH.test(text)) return text;
  if (!WEB_URL.test(text) || NOT_IN_URLS.test(text)) return null;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url.href : null;
}

// The console's own routes ("#/order/7") are the only other hrefs it makes.
const ROUTE_LINK = /^#\/[A-Za-z0-9/?=&%._-]*$/;

// ---------------------------------------------------------------- building blocks

// Elements from code: attribute names are always literals of this file, handlers
// are attached with addEventListener, text is always a text node, and an href or
// src that is neither a console route nor a safe URL is left out.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if ((key === "href" || key === "src") && !(ROUTE_LINK.test(value) || safeUrl(value))) continue;
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) {
      el.append(child instanceof Node ? child : String(child));
    }
  }
  return el;
}

// A stored URL as a link that opens apart from the console, showing the image when
// `preview` (an upload's thumbnail for an upload); an uploaded PDF as a download link;
// as plain text when it is not a safe URL.
function storedLink(text, preview) {
  const url = safeUrl(text);
  if (!url) return h("span", { class: "unsafe-url", "data-testid": "unsafe-url" }, text);
  if (isUploadedPdf(url)) {
    return h("a", { href: url, download: true, class: "download", "data-testid": "download" }, t("downloadPdf"));
  }
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: preview ? "image" : null },
    preview ? h("img", { src: uploadThumb(url) ?? url, alt: text, loading: "lazy", referrerpolicy: "no-referrer" }) : null,
    h("span", { class: "url" }, text));
}

function gallery(label, urls, testid) {
  if (!urls.length) return null;
  return h("section", { class: "gallery", "data-testid": testid },
    h("h2", {}, label),
    h("ul", {}, urls.map((u) => h("li", {}, storedLink(u, true)))));
}

const badge = (status) => h("span", { class: `badge s${status}`, "data-status": status }, statusName(status));
const when = (seconds) => new Date(seconds * 1000).toLocaleString();

function show(...content) {
  stopListening();
  main.replaceChildren(...content.filter(Boolean));
  main.focus();
}

function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

function input(name, attrs = {}) {
  return h("input", { id: `f-${name}`, name, type: "text", ...attrs });
}

function textarea(name, attrs = {}, value = "") {
  return h("textarea", { id: `f-${name}`, name, ...attrs }, value);
}

// The label a form shows for a control: its own `data-label` (an order field's name),
// else the text of its field's label or legend (without a closing hint in
// parentheses), else its aria-label.
function labelOf(control) {
  if (control.dataset.label) return control.dataset.label;
  const box = control.closest(".field");
  const caption = box && box.querySelector(":scope > label, :scope > legend");
  const text = caption?.textContent || control.getAttribute("aria-label") || "";
  return text.replace(/\s*[(（][^()（）]*[)）]\s*$/, "").trim();
}

// Whether a msg names a key (`order_extra.budget is required`): at its start, or as a
// word of its own.
function namesKey(message, name) {
  return message.startsWith(`${name} `) || message.includes(` ${name} `);
}

// Shows an API error next to the control it names (its msg starts with the field's
// name, in either language), or at the end of the form; the key in the text becomes
// the label the form shows for it.
function showError(form, error) {
  form.querySelectorAll(".error").forEach((el) => el.remove());
  let message = error instanceof Error ? error.message : String(error);
  const names = [...new Set([...form.querySelectorAll("[name]")].map((el) => el.getAttribute("name")))];
  const named = names.filter((name) => namesKey(message, name)).sort((a, b) => b.length - a.length)[0];
  const control = named && form.querySelector(`[name="${CSS.escape(named)}"]`);
  const label = control && labelOf(control);
  if (label) {
    message = message.startsWith(`${named} `)
      ? `${label}${message.slice(named.length)}`
      : message.replace(` ${named} `, ` ${label} `);
  }
  const note = h("p", { class: "error", role: "alert" }, message);
  const anchor = control ? control.closest(".field") || control : form.querySelector(".actions");
  if (anchor) anchor.after(note);
  else form.append(note);
  if (control) control.focus();
}

// The non-empty lines of a textarea, trimmed: one URL per line.
const lines = (control) => control.value.split("\n").map((u) => u.trim()).filter(Boolean);

function form(attrs, onsubmit, ...children) {
  const el = h("form", { ...attrs, novalidate: true }, ...children);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = el.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    el.querySelectorAll(".error").forEach((e) => e.remove());
    try {
      await onsubmit(el, event.submitter);
    } catch (error) {
      showError(el, error);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return el;
}

function pager(page, total, go) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return h("div", { class: "pager" },
    h("button", { class: "secondary", disabled: page <= 1, onclick: () => go(page - 1) }, t("previous")),
    h("span", { "data-testid": "page" }, `${t("page")} ${page} ${t("of")} ${pages}`),
    h("button", { class: "secondary", disabled: page >= pages, onclick: () => go(page + 1) }, t("next")));
}

function hashQuery() {
  return new URLSearchParams(location.hash.split("?")[1] || "");
}

// Goes to the page `path` with the query `next`, leaving out its empty values.
function goWith(path, next) {
  const params = new URLSearchParams({ ...next });
  for (const [k, v] of [...params]) if (!v) params.delete(k);
  location.hash = `${path}?${params}`;
}

// ---------------------------------------------------------------- order fields

function fieldControl(def, value) {
  const name = `order_extra.${def.field_name}`;
  const label = def.name + (def.required ? " *" : "");
  const named = { "data-label": def.name };
  const choices = (type, checkedIf) => h("fieldset", { class: "field", name, ...named },
    h("legend", {}, label),
    def.options.map((option) => h("label", { class: "inline" },
      h("input", { type, name, value: option, checked: checkedIf(option) }), option)));
  switch (def.type) {
    case "textarea": return field(label, textarea(name, named, value ?? ""));
    case "number": return field(label, input(name, { type: "number", step: "any", value: value ?? "", ...named }));
    case "date": return field(label, input(name, { type: "date", value: value ?? "", ...named }));
    case "select": return field(label, h("select", { id: `f-${name}`, name, ...named },
      h("option", { value: "" }, "—"),
      def.options.map((o) => h("option", { value: o, selected: o === value }, o))));
    case "radio": return choices("radio", (o) => o === value);
    case "checkbox": return choices("checkbox", (o) => Array.isArray(value) && value.includes(o));
    default: return field(label, input(name, { value: value ?? "", ...named }));
  }
}

// The value a form holds for a field definition; undefined when left empty.
function fieldValue(formEl, def) {
  const name = `order_extra.${def.field_name}`;
  if (def.type === "checkbox") {
    const checked = [...formEl.querySelectorAll(`input[name="${CSS.escape(name)}"]:checked`)].map((i) => i.value);
    return checked.length ? checked : undefined;
  }
  if (def.type === "radio") {
    return formEl.querySelector(`input[name="${CSS.escape(name)}"]:checked`)?.value;
  }
  const raw = formEl.elements[name].value;
  if (raw.trim() === "") return undefined;
  return def.type === "number" ? Number(raw) : raw;
}

// ---------------------------------------------------------------- the merchant's team

// The merchant's team (staff and admins, disabled ones included), by id.
async function team() {
  const members = new Map();
  for (const role of VOCABULARY.merchantRoles) {
    const answer = await api("GET", "/admin/users", undefined, { role, page_size: 100 });
    for (const user of answer.data) members.set(user.id, user);
  }
  return members;
}

const memberName = (members, id) => members.get(id)?.user_name ?? `#${id}`;

// ---------------------------------------------------------------- navigation

// Staff and admins have the merchant's side; the field definitions and webhooks are
// an admin's only.
function isMerchant() {
  return me?.role === "admin" || me?.role === "staff";
}

function renderNav() {
  const links = [];
  if (me) {
    if (isMerchant()) {
      links.push(h("a", { href: "#/admin" }, t("inbox")), h("a", { href: "#/admin/purchases" }, t("purchaseOrders")),
        h("a", { href: "#/admin/users" }, t("users")), h("a", { href: "#/admin/replies" }, t("replies")));
    }
    if (me.role === "admin") {
      links.push(h("a", { href: "#/admin/fields" }, t("fields")), h("a", { href: "#/admin/webhooks" }, t("webhooks")));
    }
    links.push(h("a", { href: "#/orders" }, t("myOrders")), h("a", { href: "#/new" }, t("newRequest")),
      h("a", { href: "#/settings" }, t("notifications")));
    links.push(h("span", { class: "spacer" }), h("span", { class: "muted" }, me.user_name),
      h("button", { class: "secondary", id: "sign-out", onclick: signOut }, t("signOut")));
  }
  nav.replaceChildren(...links);
}

async function signOut() {
  await api("POST", "/logout");
  me = null;
  location.hash = "#/login";
}

const ROUTES = [
  [/^#\/login$/, () => authView("login")],
  [/^#\/register$/, () => authView("register")],
  [/^#\/forgot$/, forgotView],
  [/^#\/reset$/, resetView],
  [/^#\/orders$/, ordersView],
  [/^#\/new$/, newRequestView],
  [/^#\/order\/(\d+)$/, (id) => orderView(id, false)],
  [/^#\/admin$/, inboxView],
  [/^#\/admin\/order\/(\d+)$/, (id) => orderView(id, true)],
  [/^#\/admin\/purchases$/, purchasesView],
  [/^#\/admin\/fields$/, fieldsView],
  [/^#\/admin\/users$/, usersView],
  [/^#\/admin\/replies$/, repliesView],
  [/^#\/admin\/webhooks$/, () => webhooksView()],
  [/^#\/settings$/, settingsView],
];

// Pages of an admin only (staff have the rest of the merchant's side).
const ADMIN_PAGES = new Set(["#/admin/fields", "#/admin/webhooks"]);

// Pages shown without a session (a reset link opens in any browser).
const PUBLIC_PAGES = new Set(["#/login", "#/register", "#/forgot", "#/reset"]);

async function route() {
  const path = location.hash.split("?")[0];
  if (!me && !PUBLIC_PAGES.has(path)) return void (location.hash = "#/login");
  if (me && (path === "" || path === "#/" || path === "#/login" || path === "#/register")) {
    return void (location.hash = isMerchant() ? "#/admin" : "#/orders");
  }
  renderNav();
  if (ADMIN_PAGES.has(path) && me.role !== "admin") return void show(h("p", { class: "empty" }, t("notFound")));
  for (const [pattern, view] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      try {
        await view(...match.slice(1));
      } catch (error) {
        if (error instanceof ApiError && error.code === 1001) {
          me = null;
          location.hash = "#/login";
          return;
        }
        show(h("div", { class: "card" }, h("p", { class: "error", role: "alert" }, error.message)));
      }
      return;
    }
  }
  show(h("p", { class: "empty" }, t("notFound")));
}

// ---------------------------------------------------------------- views: accounts

function authView(kind) {
  const registering = kind === "register";
  show(h("div", { class: "card" },
    h("h1", {}, registering ? t("signUp") : t("signIn")),
    form({ id: "auth-form" }, async (el) => {
      const body = { user_name: el.user_name.value, password: el.password.value };
      if (registering && el.email.value.trim()) body.email = el.email.value;
      const answer = await api("POST", registering ? "/register" : "/login", body);
      me = answer.data;
      location.hash = isMerchant() ? "#/admin" : "#/orders";
    },
    field(t("userName"), input("user_name", { autocomplete: "username", required: true })),
    field(t("password"), input("password", { type: "password", autocomplete: registering ? "new-password" : "current-password" })),
    registering ? field(t("email"), input("email", { type: "email", autocomplete: "email" })) : null,
    h("div", { class: "actions" }, h("button", { type: "submit" }, registering ? t("signUp") : t("signIn")))),
    registering ? null : h("p", {}, h("a", { href: "#/forgot", "data-testid": "forgot-link" }, t("forgotPassword"))),
    h("p", { class: "muted" }, registering ? t("haveAccount") : t("noAccount"), " ",
      h("a", { href: registering ? "#/login" : "#/register" }, registering ? t("signIn") : t("signUp")))));
}

function forgotView() {
  const status = h("p", { role: "status", "data-testid": "forgot-status" });
  show(h("div", { class: "card" },
    h("h1", {}, t("forgotPassword")),
    h("p", { class: "muted" }, t("forgotIntro")),
    form({ id: "forgot-form" }, async (el) => {
      status.textContent = (await api("POST", "/user/password/forgot", { user_name: el.user_name.value })).msg;
    },
    field(t("loginName"), input("user_name", { autocomplete: "username", required: true })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("sendLink")))),
    status,
    h("p", { class: "muted" }, h("a", { href: "#/login" }, t("signIn")))));
}

// The page a reset link opens: works without a session. The token stays in the
// fragment, which browsers never send to a server.
function resetView() {
  const token = hashQuery().get("token") || "";
  const [shortest, longest] = VOCABULARY.passwordLength;
  const again = h("p", { class: "muted" }, h("a", { href: "#/forgot" }, t("requestNewLink")));
  if (!token) {
    return show(h("div", { class: "card" }, h("h1", {}, t("resetPassword")),
      h("p", { class: "error", role: "alert" }, t("noResetToken")), again));
  }
  const done = h("div", { role: "status", "data-testid": "reset-status" });
  const resetForm = form({ id: "reset-form" }, async (el) => {
    const answer = await api("POST", "/user/password/reset", { token, password: el.password.value });
    me = null;
    resetForm.replaceWith(done);
    done.replaceChildren(h("p", {}, answer.msg), h("p", {}, h("a", { href: "#/login" }, t("signIn"))));
  },
  field(t("newPassword"), input("password", { type: "password", autocomplete: "new-password",
    minlength: shortest, maxlength: longest, required: true })),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("setPassword"))));
  show(h("div", { class: "card" }, h("h1", {}, t("resetPassword")), resetForm, again));
}

// ---------------------------------------------------------------- views: lists

// The orders of a list. Fields the server may not answer yet are shown when present:
// the customer (`user`), the unread count, the last message and the latest activity.
// `members`: the merchant's team by id, to name assignees.
function orderList(orders, admin, members = new Map()) {
  if (!orders.length) {
    return h("div", { class: "empty", "data-testid": "empty" }, t("noOrders"), " ",
      admin ? null : h("a", { href: "#/new" }, t("startOne")));
  }
  const customer = (order) => order.user?.user_name ?? `${t("customer")} ${order.user_id}`;
  const preview = (m) => h("p", { class: "preview muted", "data-testid": "preview" },
    isNote(m) ? `(${t("note")}) ` : "", `${m.sender_name}: `, m.content);
  return h("ul", { class: "list", "data-testid": "orders" }, orders.map((order) => h("li", { "data-order": order.id, class: order.unread > 0 ? "unread" : null },
    safeUrl(order.thumb) ? h("img", { src: order.thumb, alt: "", class: "thumb", loading: "lazy", referrerpolicy: "no-referrer", "data-testid": "thumb" }) : null,
    h("div", { class: "summary" },
      h("a", { href: `#/${admin ? "admin/order" : "order"}/${order.id}` }, `#${order.id} ${order.title}`),
      order.last_message ? preview(order.last_message) : null),
    h("span", { class: "muted" },
      admin ? h("span", { "data-testid": "customer" }, customer(order)) : null, admin ? " · " : "",
      admin && order.assignee_id ? h("span", { "data-testid": "list-assignee" }, `→ ${memberName(members, order.assignee_id)} · `) : null,
      `${t("updatedAt")} ${when(order.last_activity_time ?? order.updated_time)}`),
    order.unread > 0 ? h("span", { class: "unread-count", "data-testid": "unread", title: t("unreadCount") }, order.unread) : null,
    badge(order.status))));
}

// A list of orders that reloads (shortly, once for a burst) when an order of the
// caller's is created or changed; `load` answers the list's content.
async function liveList(load) {
  const box = h("div", { class: "card" }, await load());
  let pending = null;
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(() => load().then((content) => box.replaceChildren(...content.filter(Boolean)), () => {}), 200);
  };
  // Messages change the lists too (unread counts, last messages, activity).
  const stop = listen({}, soon, soon);
  return [box, () => { clearTimeout(pending); stop(); }];
}

async function ordersView() {
  const page = Number(hashQuery().get("page") || 1);
  const [list, stop] = await liveList(async () => {
    // Latest activity first.
    const answer = await api("GET", "/communication/orders", undefined, { current: page, page_size: PAGE_SIZE, sort: "activity" });
    return [orderList(answer.data, false),
      answer.total > PAGE_SIZE ? pager(page, answer.total, (p) => (location.hash = `#/orders?page=${p}`)) : null];
  });
  show(h("h1", {}, t("myOrders")), list);
  stopListening = stop;
}

// The inbox's views ("show"): each the query keys it sends.
const INBOX_SHOWS = {
  mine: () => ({ assignee_id: me.id }),
  unassigned: () => ({ assignee_id: 0 }),
  awaiting: () => ({ awaiting_reply: 1 }),
  unread: () => ({ unread: 1 }),
};
const SORTS = ["activity", "created"];
const SHOW_LABELS = { mine: "mine", unassigned: "unassigned", awaiting: "awaitingReply", unread: "unreadOnly" };

async function inboxView() {
  const query = hashQuery();
  const page = Number(query.get("page") || 1);
  const status = query.get("status") || "";
  const search = query.get("q") || "";
  const showing = query.get("show") in INBOX_SHOWS ? query.get("show") : "";
  // Latest activity first, unless the newest orders are asked for.
  const sort = SORTS.includes(query.get("sort")) ? query.get("sort") : SORTS[0];
  const members = await team();
  const go = (next) => goWith("#/admin", next);
  const current = { status, q: search, show: showing, sort };
  const [list, stop] = await liveList(async () => {
    const answer = await api("GET", "/admin/communication/orders", undefined,
      { current: page, page_size: PAGE_SIZE, status, q: search, sort,
        ...(showing ? INBOX_SHOWS[showing]() : {}) });
    return [orderList(answer.data, true, members),
      answer.total > PAGE_SIZE ? pager(page, answer.total, (p) => go({ ...current, page: p })) : null];
  });
  show(h("h1", {}, t("inbox")),
    form({ class: "card filters", id: "inbox-filters" }, (el) => go({
      status: el.status.value, q: el.q.value, show: el.show.value, sort: el.sort.value }),
      field(t("show"), h("select", { id: "f-show", name: "show" },
        h("option", { value: "" }, t("all")),
        Object.keys(INBOX_SHOWS).map((s) => h("option", { value: s, selected: s === showing }, t(SHOW_LABELS[s]))))),
      field(t("status"), h("select", { id: "f-status", name: "status" },
        h("option", { value: "" }, t("all")),
        VOCABULARY.statuses.map(({ value }) => String(value)).map((s) => h("option", { value: s, selected: s === status }, statusName(s))))),
      field(t("search"), input("q", { type: "search", value: search })),
      field(t("sortBy"), h("select", { id: "f-sort", name: "sort" },
        SORTS.map((s) => h("option", { value: s, selected: s === sort }, t(s === "activity" ? "sortActivity" : "sortCreated"))))),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("apply")))),
    list);
  stopListening = stop;
}

// ---------------------------------------------------------------- views: a new request

async function newRequestView() {
  const definitions = (await api("GET", "/communication/fields")).data;
  const images = textarea("images", { rows: 2 });
  show(h("h1", {}, t("newRequest")),
    form({ class: "card", id: "new-order" }, async (el) => {
      const extra = {};
      for (const def of definitions) {
        const value = fieldValue(el, def);
        if (value !== undefined) extra[def.field_name] = value;
      }
      const body = {
        archive_id: 1, title: el.title.value, content: el.content.value, phone: el.phone.value,
        images: lines(el.images),
        event_date: el.event_date.value, order_extra: extra,
      };
      const created = await api("POST", "/communication/order/create", body);
      location.hash = `#/order/${created.data.id}`;
    },
    field(t("title"), input("title")),
    field(t("content"), textarea("content")),
    field(t("phone"), input("phone", { type: "tel", autocomplete: "tel" })),
    definitions.map((def) => fieldControl(def, undefined)),
    field(t("images"), images),
    attachControl("images", (attachment) => appendLine(images, attachment.logo)),
    field(t("eventDate"), input("event_date")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("create")))));
}

// ---------------------------------------------------------------- views: one order

function facts(order, definitions) {
  const extra = order.order_extra;
  const defined = new Set(definitions.map((d) => d.field_name));
  const rows = [
    [t("status"), badge(order.status)], [t("phone"), order.phone], [t("eventDate"), order.event_date || "—"],
    [t("quotePrice"), order.quote_price || "—"], [t("version"), order.version],
    ...definitions.map((d) => [d.name, extra[d.field_name] === undefined ? "—" : JSON.stringify(extra[d.field_name]).replace(/^"|"$/g, "")]),
    ...Object.keys(extra).filter((k) => !defined.has(k)).map((k) => [k, typeof extra[k] === "string" ? extra[k] : JSON.stringify(extra[k])]),
  ];
  return h("dl", { class: "facts", "data-testid": "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// Image and file messages carry an upload path or URL and show as a link
// when it is safe; every other message, and any unsafe content, is text.
function messageBody(m) {
  if (m.message_type === "image" || m.message_type === "file") return storedLink(m.content, m.message_type === "image");
  return m.content;
}

function thread(messages) {
  if (!messages.length) return h("p", { class: "muted", "data-testid": "thread" }, t("noMessages"));
  return h("ol", { class: "thread", "data-testid": "thread" }, messages.map((m) => h("li", { class: m.sender_type },
    h("span", { class: "who" }, `${m.sender_name} · ${when(m.created_time)}`), messageBody(m))));
}

async function orderView(id, admin) {
  const scope = admin ? "/admin/communication" : "/communication";
  const load = async () => (await api("GET", `${scope}/order/detail`, undefined, { id })).data;
  let order = await load();
  const definitions = order.order_fields;
  const notice = h("div", { "data-testid": "notice" });
  const header = h("div");
  const body = h("div");
  const threadBox = h("div");
  // The merchant's side: the team (for assignment) and the saved replies.
  const members = admin ? await team() : new Map();
  const replies = admin ? (await api("GET", "/admin/replies")).data : [];
  const notesBox = h("div", { "data-testid": "notes" });
  const assignee = h("p", { "data-testid": "assignee" });
  const purchase = purchasePanel(admin);
  // Opening the order, and each message arriving while it is open, reads it.
  const markRead = () => api("POST", `${scope}/order/read`, { id: order.id }).catch(() => {});

  const render = () => {
    header.replaceChildren(h("h1", {}, `#${order.id} `, h("span", { "data-testid": "title" }, order.title), " ", badge(order.status)));
    body.replaceChildren(...[h("p", { "data-testid": "content" }, order.content), facts(order, definitions),
      order.quote_content && h("p", { "data-testid": "quote" }, h("strong", {}, `${t("quote")}: `), order.quote_content),
      gallery(t("referenceImages"), order.images, "images"),
      gallery(t("sketchImages"), order.sketch_images, "sketch-images"),
      gallery(t("finishedImages"), order.finished_images, "finished-images")].filter(Boolean));
    threadBox.replaceChildren(thread(order.messages.filter((m) => !isNote(m))));
    if (admin) {
      notesBox.replaceChildren(notes(order.messages.filter(isNote)));
      assignee.textContent = order.assignee_id ? memberName(members, order.assignee_id) : t("nobody");
    }
    actions.replaceChildren(...(admin ? merchantActions() : customerActions()));
    const list = threadBox.querySelector(".thread");
    if (list) list.scrollTop = list.scrollHeight;
  };
  const refresh = async () => { order = await load(); render(); };
  // What changed before the stream opened: the order, and its purchase order (which
  // then follows the stream's purchase_order.updated).
  const catchUp = async () => {
    await refresh();
    if (order.order_id) await purchase.load(order.id);
  };
  // Live: the order and its thread change as events arrive (an order event carries the
  // order without the detail's extras; a message may already be here from a refresh).
  const onEvent = (type, data) => {
    if (type === "order.updated" && data.id === order.id && data.version > order.version) {
      order = { ...order, ...data };
    } else if (type === "purchase_order.updated" && data.comm_order_id === order.id) {
      purchase.take(data);
      return;
    } else if (type === "message.created" && !order.messages.some((m) => m.id === data.id)) {
      order = { ...order, messages: [...order.messages, data], messages_total: order.messages_total + 1 };
      markRead();
    } else {
      return;
    }
    render();
  };

  // A final action (`question`: what it asks first) happens only once confirmed.
  const act = (label, path, extra, cls, question) => form({ class: "inline-action" }, async () => {
    if (question && !confirm(question)) return;
    await api("POST", path, { id: order.id, ...extra });
    notice.replaceChildren();
    await refresh();
  }, h("button", { type: "submit", class: cls }, label));

  // Which actions the order's status allows: the server's table of moves.
  const can = (action) => VOCABULARY.moves[action].sources.includes(order.status);
  const customerActions = () => {
    const out = [];
    if (can("accept")) out.push(act(t("accept"), "/communication/order/accept", {}, null, t("confirmAccept")));
    if (can("reject")) out.push(act(t("reject"), "/communication/order/reject", {}, "secondary", t("confirmReject")));
    if (can("cancel")) out.push(act(t("cancelOrder"), "/communication/order/cancel", {}, "danger", t("confirmCancel")));
    if (can("update")) {
      out.push(h("button", { class: "secondary", id: "edit", onclick: toggleEditor }, t("edit")));
    }
    return out;
  };

  const merchantActions = () => {
    const out = [];
    const { talk, close } = VOCABULARY.moves;
    // Opening the conversation by hand is offered while nothing has started it yet.
    if (can("talk") && can("first reply")) {
      out.push(act(t("markTalking"), "/admin/communication/order/status", { status: talk.target }, "secondary"));
    }
    if (can("close")) {
      out.push(act(t("cancelOrder"), "/admin/communication/order/status", { status: close.target }, "danger", t("confirmCancel")));
    }
    return out;
  };
  const actions = h("div", { class: "actions", "data-testid": "actions" });

  // The edit form keeps the order as it was when the form was opened: its version goes
  // with the save, so a change made meanwhile by someone else answers a conflict
  // instead of being overwritten.
  const editorBox = h("div");
  const closeEditor = () => editorBox.replaceChildren();
  const toggleEditor = () => (editorBox.firstChild ? closeEditor() : editorBox.replaceChildren(editor(order)));
  const editor = (opened) => {
    const editedImages = textarea("images", { rows: 2, id: "f-edit-images" }, opened.images.join("\n"));
    return form({ class: "card", id: "edit-form" }, async (el) => {
    const changes = { id: opened.id, version: opened.version };
    if (el.title.value !== opened.title) changes.title = el.title.value;
    if (el.content.value !== opened.content) changes.content = el.content.value;
    if (lines(el.images).join("\n") !== opened.images.join("\n")) changes.images = lines(el.images);
    const extra = {};
    for (const def of definitions) {
      const value = fieldValue(el, def) ?? null; // emptied: removed
      if (JSON.stringify(value) !== JSON.stringify(opened.order_extra[def.field_name] ?? null)) extra[def.field_name] = value;
    }
    if (Object.keys(extra).length) changes.order_extra = extra;
    const before = opened.status;
    order = { ...order, ...(await api("POST", "/communication/order/update", changes)).data };
    await refresh();
    closeEditor();
    const { revise } = VOCABULARY.moves;
    const revised = revise.sources.includes(before) && order.status === revise.target;
    notice.replaceChildren(h("p", { class: revised ? "notice" : "muted", role: "status" },
      revised ? t("needsReview") : t("updated")));
  },
  h("h2", {}, t("edit")),
  field(t("title"), input("title", { value: opened.title })),
  field(t("content"), textarea("content", {}, opened.content)),
  field(t("images"), editedImages),
  attachControl("edit-images", (attachment) => appendLine(editedImages, attachment.logo)),
  definitions.map((def) => fieldControl(def, opened.order_extra[def.field_name])),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("save"))));
  };

  const composer = form({ id: "message-form" }, async (el) => {
    await api("POST", `${scope}/message/send`, { comm_order_id: order.id, message_type: "text", content: el.content.value });
    el.reset();
    await refresh();
  }, replies.length ? replyPicker(replies, () => composer.elements.content) : null,
  field(t("writeMessage"), textarea("content", { rows: 2, id: "f-message" })),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("send"))),
  attachControl("message", async (attachment) => {
    await api("POST", `${scope}/message/send`,
      { comm_order_id: order.id, message_type: attachment.is_image ? "image" : "file", content: attachment.logo });
    await refresh();
  }));

  const quoteForm = admin ? form({ class: "card", id: "quote-form" }, async (el) => {
    await api("POST", "/admin/communication/order/quote", { id: order.id, quote_price: el.quote_price.value, quote_content: el.quote_content.value });
    await refresh();
  }, h("h2", {}, t("quote")),
  field(t("price"), input("quote_price", { inputmode: "decimal" })),
  field(t("quoteContent"), textarea("quote_content")),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("sendQuote")))) : null;

  const sketchImages = textarea("sketch_images", { rows: 2 }, order.sketch_images.join("\n"));
  const finishedImages = textarea("finished_images", { rows: 2 }, order.finished_images.join("\n"));
  const imagesForm = admin ? form({ class: "card", id: "images-form" }, async (el) => {
    await api("POST", "/admin/communication/order/images",
      { id: order.id, sketch_images: lines(el.sketch_images), finished_images: lines(el.finished_images) });
    await refresh();
  }, h("h2", {}, t("merchantImages")),
  field(t("sketchImages"), sketchImages),
  attachControl("sketch-images", (attachment) => appendLine(sketchImages, attachment.logo)),
  field(t("finishedImages"), finishedImages),
  attachControl("finished-images", (attachment) => appendLine(finishedImages, attachment.logo)),
  h("p", { class: "muted" }, t("oneUrlPerLine")),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("saveImages")))) : null;

  // Assigned to me, to a member of the team, or to nobody.
  const assignForm = admin ? form({ class: "card", id: "assign-form" }, async (el, submitter) => {
    const to = submitter?.value === "me" ? me.id : Number(el.assignee_id.value);
    await api("POST", "/admin/communication/order/assign", { id: order.id, assignee_id: to });
    await refresh();
  }, h("h2", {}, t("assignee")), assignee,
  field(t("assign"), h("select", { id: "f-assignee_id", name: "assignee_id" },
    h("option", { value: "0" }, t("nobody")),
    [...members.values()].filter((m) => !m.disabled).map((m) => h("option", { value: String(m.id) }, m.user_name)))),
  h("div", { class: "actions" },
    h("button", { type: "submit", value: "chosen", id: "assign" }, t("assign")),
    h("button", { type: "submit", value: "me", class: "secondary", id: "assign-me" }, t("assignToMe")))) : null;

  // Internal notes: apart from the thread, for the merchant's side only.
  const notesCard = admin ? h("div", { class: "card notes" },
    h("h2", {}, t("notes")), h("p", { class: "muted" }, t("noteHint")), notesBox,
    form({ id: "note-form" }, async (el) => {
      await api("POST", "/admin/communication/order/note", { id: order.id, content: el.content.value });
      el.reset();
      await refresh();
    }, field(t("addNote"), textarea("content", { rows: 2, id: "f-note" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, t("addNote"))))) : null;

  render();
  if (order.order_id) await purchase.load(order.id);
  show(header, notice,
    h("div", { class: "grid" },
      h("section", {}, h("div", { class: "card" }, body, actions), purchase.box, editorBox,
        h("div", { class: "card" }, h("h2", {}, t("thread")), threadBox, composer)),
      h("aside", {}, admin ? h("div", { class: "card muted", "data-testid": "customer" }, `${t("customer")}: ${order.user.user_name}`) : null,
        assignForm, notesCard, quoteForm, imagesForm)));
  stopListening = listen({ comm_order_id: order.id }, onEvent, () => catchUp().catch(() => {}));
  markRead();
}

// A note is a message of the merchant's side only (the type the server gives notes).
const isNote = (m) => m.message_type === "note";

function notes(list) {
  if (!list.length) return h("p", { class: "muted" }, t("noNotes"));
  return h("ol", { class: "thread notes" }, list.map((m) => h("li", { class: "note", "data-testid": "note" },
    h("span", { class: "who" }, `${m.sender_name} · ${when(m.created_time)}`), m.content)));
}

// A saved reply's content goes into the message box where the cursor is.
function replyPicker(replies, box) {
  const picker = h("select", { id: "reply-picker", "aria-label": t("insertReply"), onchange: () => {
    const reply = replies.find((r) => String(r.id) === picker.value);
    picker.value = "";
    if (!reply) return;
    const target = box();
    target.setRangeText(reply.content, target.selectionStart, target.selectionEnd, "end");
    target.focus();
  } }, h("option", { value: "" }, `${t("insertReply")}…`),
  replies.map((r) => h("option", { value: String(r.id) }, r.title)));
  return h("div", { class: "reply-picker" }, picker);
}

// ---------------------------------------------------------------- purchase orders

// An amount in cents as money: 1200050 → "12000.50".
const money = (cents) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;

const purchaseBadge = (status) => h("span", { class: `badge p${status}`, "data-purchase-status": status },
  purchaseStatusName(status));

const PURCHASE_MOVES = VOCABULARY.purchaseMoves;

// The purchase order an accepted quote made, on the order's page of either side: what
// it holds and the steps its status allows the viewer (the server's table of moves).
// `load(commOrderId)` fetches it; `take(purchase)` shows a live event's state (events
// arrive in the order they happened, so the last one shown is the latest). An answer
// (a fetch, a step's) is shown only if no event came while it was asked: it may be
// older than that event, and every change comes as an event anyway. Hidden until there
// is one.
function purchasePanel(admin) {
  const scope = admin ? "/admin" : "";
  const box = h("div");
  const factsBox = h("div");
  const steps = h("div", { class: "actions", "data-testid": "purchase-actions" });
  const notice = h("div", { "data-testid": "purchase-notice" });
  let purchase = null;
  let stepsFor = null; // the status the steps were drawn for: what is typed survives other changes
  let events = 0; // purchase_order.updated events shown

  const can = (action) => PURCHASE_MOVES[action].sources.includes(purchase.status);
  const post = (path, body) => api("POST", `${scope}/order/${path}`, { order_id: purchase.order_id, ...body });
  // One step: a form posting `path` with what `body(form)` adds, its `controls` above
  // its button; a final step asks `question` first.
  const step = (label, path, { cls = null, question = null, controls = [], body = () => ({}) } = {}) =>
    form({ class: controls.length ? "purchase-step" : "inline-action" }, async (el) => {
      if (question && !confirm(question)) return;
      await answered(async () => (await post(path, body(el))).data);
    }, controls, h("button", { type: "submit", class: cls }, label));
  // Offline payment answers the merchant's instructions, shown until the next step.
  const payOffline = form({ class: "inline-action" }, async () => {
    const answer = await post("payment", { pay_way: VOCABULARY.offlinePayWay });
    notice.replaceChildren(h("div", { class: "notice", role: "status", "data-testid": "instructions" },
      h("p", {}, answer.msg),
      answer.data.instructions ? [h("h3", {}, t("howToPay")), h("p", { class: "instructions" }, answer.data.instructions)] : null));
  }, h("button", { type: "submit" }, t("payOffline")));
  const optional = (label) => `${label} ${t("optional")}`;

  const customerSteps = () => [
    can("payment") && payOffline,
    can("cancel") && step(t("cancelPurchase"), "cancel", { cls: "danger", question: t("confirmPurchaseCancel") }),
    can("finish") && step(t("confirmReceipt"), "finish", { question: t("confirmReceived") }),
    can("refund") && step(t("askRefund"), "refund", { cls: "secondary",
      controls: [field(t("refundReason"), textarea("reason", { id: "f-refund-reason", rows: 2 }))],
      body: (el) => ({ reason: el.elements.reason.value }) }),
  ];
  const merchantSteps = () => [
    can("paid") && step(t("markPaid"), "paid", {
      controls: [field(optional(t("paymentReference")), input("payment_reference"))],
      body: (el) => ({ payment_reference: el.elements.payment_reference.value }) }),
    can("deliver") && step(t("markShipped"), "deliver", {
      controls: [field(t("carrier"), input("express_company")), field(t("trackingNumber"), input("tracking_number"))],
      body: (el) => ({ express_company: el.elements.express_company.value, tracking_number: el.elements.tracking_number.value }) }),
    can("approve refund") && step(t("approveRefund"), "refund", { question: t("confirmRefund"), body: () => ({ approve: true }) }),
    can("refuse refund") && step(t("refuseRefund"), "refund", { cls: "secondary", body: () => ({ approve: false }) }),
    can("close") && step(t("close"), "close", { cls: "danger", question: t("confirmClose") }),
  ];

  const render = () => {
    const refundAsked = purchase.status === PURCHASE_MOVES.refund.target;
    const rows = [
      [t("orderNumber"), h("span", { "data-testid": "purchase-number" }, purchase.order_id)],
      [t("amount"), h("span", { "data-testid": "purchase-amount" }, money(purchase.amount))],
      [t("status"), purchaseBadge(purchase.status)],
      purchase.pay_way && [t("payWay"), purchase.pay_way],
      purchase.payment_reference && [t("paymentReference"), h("span", { "data-testid": "payment-reference" }, purchase.payment_reference)],
      purchase.express_company && [t("carrier"), h("span", { "data-testid": "carrier" }, purchase.express_company)],
      purchase.tracking_number && [t("trackingNumber"), h("span", { "data-testid": "tracking-number" }, purchase.tracking_number)],
      refundAsked && [t("refundReason"), h("span", { "data-testid": "refund-reason" }, purchase.refund_reason)],
    ].filter(Boolean);
    factsBox.replaceChildren(h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
    if (stepsFor !== purchase.status) {
      stepsFor = purchase.status;
      notice.replaceChildren(); // the payment instructions, until the order moves on
      steps.replaceChildren(...(admin ? merchantSteps() : customerSteps()).filter(Boolean));
    }
    if (!box.firstChild) {
      box.append(h("section", { class: "card purchase", "data-testid": "purchase" },
        h("h2", {}, t("purchaseOrder")), factsBox, steps, notice));
    }
  };
  const show = (found) => {
    purchase = found;
    render();
  };
  const take = (found) => {
    events += 1;
    show(found);
  };
  const answered = async (ask) => {
    const before = events;
    const found = await ask();
    if (found && events === before) show(found);
  };
  const load = (commOrderId) => answered(async () =>
    (await api("GET", `${scope}/orders`, undefined, { comm_order_id: commOrderId })).data[0]);
  return { box, load, take };
}

// The merchant's purchase orders, newest first, by status; each opens its order's page.
async function purchasesView() {
  const query = hashQuery();
  const page = Number(query.get("page") || 1);
  const status = query.get("status") || "";
  const go = (next) => goWith("#/admin/purchases", next);
  const row = (purchase) => h("li", { "data-purchase": purchase.order_id },
    h("div", { class: "summary" },
      h("a", { href: `#/admin/order/${purchase.comm_order_id}` }, purchase.order_id),
      h("p", { class: "preview muted" }, `${t("customer")} ${purchase.user_id} · ${t("createdAt")} ${when(purchase.created_time)}`)),
    h("strong", { "data-testid": "purchase-amount" }, money(purchase.amount)),
    purchaseBadge(purchase.status));
  const [list, stop] = await liveList(async () => {
    const answer = await api("GET", "/admin/orders", undefined, { current: page, page_size: PAGE_SIZE, status });
    return [answer.data.length
      ? h("ul", { class: "list", "data-testid": "purchases" }, answer.data.map(row))
      : h("p", { class: "empty", "data-testid": "empty" }, t("noPurchaseOrders")),
    answer.total > PAGE_SIZE ? pager(page, answer.total, (p) => go({ status, page: p })) : null];
  });
  show(h("h1", {}, t("purchaseOrders")),
    form({ class: "card filters", id: "purchase-filters" }, (el) => go({ status: el.status.value }),
      field(t("status"), h("select", { id: "f-status", name: "status" },
        h("option", { value: "" }, t("all")),
        VOCABULARY.purchaseStatuses.map(({ value }) => String(value))
          .map((s) => h("option", { value: s, selected: s === status }, purchaseStatusName(s))))),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("apply")))),
    list);
  stopListening = stop;
}

// ---------------------------------------------------------------- views: field definitions

// `saved`: just saved (the page is drawn again from what the server now holds).
async function fieldsView(saved = false) {
  const definitions = (await api("GET", "/admin/communication/fields")).data;
  const rows = h("div", { id: "field-rows" });
  const TYPES = VOCABULARY.fieldTypes;
  const addRow = (def = { field_name: "", name: "", type: "text", required: false, options: [] }) => {
    const row = h("div", { class: "field-row" },
      h("input", { type: "text", name: "field_name", "aria-label": t("fieldName"), placeholder: t("fieldName"), value: def.field_name }),
      h("input", { type: "text", name: "name", "aria-label": t("label"), placeholder: t("label"), value: def.name }),
      h("select", { name: "type", "aria-label": t("type") }, TYPES.map((k) => h("option", { value: k, selected: k === def.type }, k))),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "required", checked: def.required }), t("required")),
      h("input", { type: "text", name: "options", "aria-label": t("options"), placeholder: t("options"), value: def.options.join(", ") }),
      h("button", { type: "button", class: "danger", onclick: () => row.remove() }, t("remove")));
    rows.append(row);
  };
  definitions.forEach(addRow);
  const status = h("p", { role: "status", class: "muted", "data-testid": "fields-status" }, saved ? t("saved") : null);
  show(h("h1", {}, t("fields")),
    form({ class: "card", id: "fields-form" }, async () => {
      const fields = [...rows.children].map((row) => {
        const type = row.querySelector("[name=type]").value;
        const options = row.querySelector("[name=options]").value.split(",").map((o) => o.trim()).filter(Boolean);
        return {
          field_name: row.querySelector("[name=field_name]").value, name: row.querySelector("[name=name]").value,
          type, required: row.querySelector("[name=required]").checked,
          ...(VOCABULARY.fieldTypesWithOptions.includes(type) ? { options } : {}),
        };
      });
      await api("POST", "/admin/communication/fields", { fields });
      await fieldsView(true);
    },
    definitions.length ? null : h("p", { class: "muted", "data-testid": "no-fields" }, t("noFields")),
    rows,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => addRow() }, t("addField")),
      h("button", { type: "submit" }, t("saveFields"))),
    status));
}

// ---------------------------------------------------------------- views: users

// Every user, searchable by name, email or phone and by role. Staff see the list; an
// admin also changes roles, disables and enables (disabling asks first) and makes
// a reset link, shown here to pass on. Nobody changes their own account here.
async function usersView() {
  const query = hashQuery();
  const page = Number(query.get("page") || 1);
  const search = query.get("q") || "";
  const role = query.get("role") || "";
  const go = (next) => goWith("#/admin/users", next);
  const answer = await api("GET", "/admin/users", undefined, { current: page, page_size: PAGE_SIZE, q: search, role });
  const notice = h("div", { "data-testid": "users-notice" });
  const attempt = (work) => async (event) => {
    notice.replaceChildren();
    try {
      await work(event);
    } catch (error) {
      notice.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
    }
  };
  const change = (user, body) => api("POST", "/admin/users/update", { id: user.id, ...body });
  const row = (user) => {
    const editable = me.role === "admin" && user.id !== me.id;
    const roleCell = editable
      ? h("select", { "aria-label": `${t("role")}: ${user.user_name}`, "data-testid": "role",
        onchange: attempt(async (event) => {
          await change(user, { role: event.target.value });
          await usersView();
        }) }, VOCABULARY.roles.map((r) => h("option", { value: r, selected: r === user.role }, t(`role_${r}`))))
      : t(`role_${user.role}`);
    const toggle = () => h("button", { type: "button", class: user.disabled ? "secondary" : "danger", "data-testid": "toggle-disabled",
      onclick: attempt(async () => {
        if (!user.disabled && !confirm(t("confirmDisable"))) return;
        await change(user, { disabled: !user.disabled });
        await usersView();
      }) }, user.disabled ? t("enable") : t("disable"));
    const resetLink = () => h("button", { type: "button", class: "secondary", "data-testid": "reset-link",
      onclick: attempt(async () => {
        const made = (await api("POST", "/admin/users/password-reset", { id: user.id })).data;
        notice.replaceChildren(h("div", { class: "card secret", role: "status" },
          h("p", {}, `${t("resetLinkFor")} ${user.user_name}`), h("output", { "data-testid": "reset-url" }, made.reset_url)));
      }) }, t("makeResetLink"));
    return h("tr", { "data-testid": "user", "data-user": user.user_name, class: user.disabled ? "disabled" : null },
      h("td", {}, h("strong", {}, user.user_name), [user.email, user.phone].filter(Boolean).map((c) => h("div", { class: "muted" }, c))),
      h("td", {}, roleCell),
      h("td", { "data-testid": "disabled" }, user.disabled ? t("accountDisabled") : ""),
      h("td", { "data-testid": "orders-total" }, user.orders_total),
      h("td", {}, user.last_login_time ? when(user.last_login_time) : t("never")),
      h("td", {}, editable ? h("div", { class: "row-actions" }, toggle(), resetLink()) : null));
  };
  show(h("h1", {}, t("users")),
    form({ class: "card filters", id: "users-filters" }, (el) => go({ q: el.q.value, role: el.role.value }),
      field(t("search"), input("q", { type: "search", value: search })),
      field(t("role"), h("select", { id: "f-role", name: "role" }, h("option", { value: "" }, t("all")),
        VOCABULARY.roles.map((r) => h("option", { value: r, selected: r === role }, t(`role_${r}`))))),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("apply")))),
    notice,
    h("div", { class: "card table-box" }, answer.data.length
      ? h("table", { class: "users", "data-testid": "users" },
        h("tr", {}, [t("userName"), t("role"), "", t("ordersTotal"), t("lastLogin"), ""].map((c) => h("th", {}, c))),
        answer.data.map(row))
      : h("p", { class: "empty" }, t("noUsers")),
    answer.total > PAGE_SIZE ? pager(page, answer.total, (p) => go({ q: search, role, page: p })) : null));
}

// ---------------------------------------------------------------- views: saved replies

// The replies staff and admins share: each editable in place, and a form to add one.
async function repliesView() {
  const replies = (await api("GET", "/admin/replies")).data;
  const status = h("p", { role: "status", class: "muted", "data-testid": "replies-status" });
  const fields = (prefix, reply) => [
    field(t("replyTitle"), input("title", { id: `f-${prefix}-title`, value: reply?.title ?? "" })),
    field(t("replyContent"), textarea("content", { id: `f-${prefix}-content`, rows: 3 }, reply?.content ?? "")),
  ];
  const card = (reply) => form({ class: "card", "data-testid": "reply", "data-reply": reply.id }, async (el, submitter) => {
    if (submitter?.value === "remove") {
      await api("POST", "/admin/replies/delete", { id: reply.id });
    } else {
      await api("POST", "/admin/replies/update", { id: reply.id, title: el.title.value, content: el.content.value });
    }
    await repliesView();
    document.querySelector("[data-testid=replies-status]").textContent = t("saved");
  }, fields(`reply-${reply.id}`, reply),
  h("div", { class: "actions" }, h("button", { type: "submit", value: "save" }, t("save")),
    h("button", { type: "submit", class: "danger", value: "remove" }, t("remove"))));
  show(h("h1", {}, t("replies")), status,
    replies.length ? h("div", { "data-testid": "replies" }, replies.map(card)) : h("p", { class: "muted" }, t("noReplies")),
    form({ class: "card", id: "reply-form" }, async (el) => {
      await api("POST", "/admin/replies", { title: el.title.value, content: el.content.value });
      await repliesView();
      document.querySelector("[data-testid=replies-status]").textContent = t("saved");
    }, h("h2", {}, t("addReply")), fields("new-reply"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("addReply")))));
}

// ---------------------------------------------------------------- views: webhooks and mail

const EVENT_TYPES = VOCABULARY.eventTypes;

// A secret is shown once, where it was made: in an <output> the merchant copies.
function secretNote(secret) {
  return h("div", { class: "card secret", role: "status" },
    h("p", {}, t("secretOnce")), h("output", { "data-testid": "secret" }, secret));
}

// `secret`: the one just made, shown above the list (only until the next view).
async function webhooksView(secret) {
  const hooks = (await api("GET", "/admin/webhooks")).data;
  const notice = h("div", {}, typeof secret === "string" ? secretNote(secret) : null);
  const checked = (el) => EVENT_TYPES.filter((type) => el.elements[`event-${type}`].checked);
  const adding = form({ class: "card", id: "webhook-form" }, async (el) => {
    const events = checked(el);
    const created = (await api("POST", "/admin/webhooks", {
      url: el.elements.url.value, description: el.elements.description.value,
      events: events.length ? events : ["*"],
    })).data;
    await webhooksView(created.secret);
  },
  h("h2", {}, t("addWebhook")),
  field(t("webhookUrl"), input("url", { required: true, placeholder: "https://" })),
  field(t("description"), input("description")),
  h("fieldset", {}, h("legend", {}, t("webhookEvents")),
    EVENT_TYPES.map((type) => h("label", { class: "inline" },
      h("input", { type: "checkbox", name: `event-${type}` }), type))),
  h("div", { class: "actions" }, h("button", { type: "submit" }, t("addWebhook"))));
  show(h("h1", {}, t("webhooks")), notice,
    hooks.length ? h("div", {}, hooks.map((hook) => webhookCard(hook, notice))) : h("p", { class: "muted" }, t("noWebhooks")),
    adding);
}

function webhookCard(hook, notice) {
  const list = h("div", { class: "deliveries" });
  const enabled = h("input", { type: "checkbox", checked: hook.enabled, onchange: async () => {
    await api("POST", "/admin/webhooks/update", { id: hook.id, enabled: enabled.checked });
  } });
  const rotate = async () => {
    const rotated = (await api("POST", "/admin/webhooks/rotate", { id: hook.id })).data;
    notice.replaceChildren(secretNote(rotated.secret));
  };
  const remove = async () => {
    await api("POST", "/admin/webhooks/delete", { id: hook.id });
    await webhooksView();
  };
  const showDeliveries = async (page = 1) => {
    const answer = await api("GET", "/admin/webhooks/deliveries", undefined,
      { webhook_id: hook.id, current: page, page_size: PAGE_SIZE });
    list.replaceChildren(
      answer.data.length ? h("table", {},
        h("tr", {}, ["#", t("event"), t("status"), t("attempts"), "HTTP", t("error"), ""].map((c) => h("th", {}, c))),
        answer.data.map((d) => h("tr", { "data-testid": "delivery" },
          h("td", {}, d.id), h("td", {}, d.event_type), h("td", {}, t(`delivery_${d.status}`)),
          h("td", {}, d.attempts), h("td", {}, d.http_status || ""), h("td", {}, d.error),
          h("td", {}, h("button", { class: "secondary", onclick: async () => {
            await api("POST", "/admin/webhooks/redeliver", { delivery_id: d.id });
            await showDeliveries(page);
          } }, t("redeliver")))))) : h("p", { class: "muted" }, t("noDeliveries")),
      answer.total > PAGE_SIZE ? pager(page, answer.total, showDeliveries) : null);
  };
  return h("div", { class: "card webhook", "data-testid": "webhook" },
    h("h2", {}, hook.url),
    hook.description ? h("p", {}, hook.description) : null,
    h("p", { class: "muted" }, `${t("webhookEvents")}: ${hook.events.join(", ")}`),
    h("label", { class: "inline" }, enabled, t("enabled")),
    h("div", { class: "actions" },
      h("button", { class: "secondary", onclick: () => showDeliveries() }, t("deliveries")),
      h("button", { class: "secondary", onclick: rotate }, t("rotateSecret")),
      h("button", { class: "danger", onclick: remove }, t("remove"))),
    list);
}

async function settingsView() {
  me = (await api("GET", "/user/detail")).data;
  const status = h("p", { role: "status", class: "muted" });
  show(h("h1", {}, t("notifications")),
    form({ class: "card", id: "notifications-form" }, async (el) => {
      me = (await api("POST", "/user/notifications", { email: el.elements.email.checked })).data;
      status.textContent = t("saved");
    },
    h("label", { class: "inline" },
      h("input", { type: "checkbox", name: "email", checked: me.notify_email }), t("emailMe")),
    me.email ? null : h("p", { class: "muted" }, t("noEmail")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("save"))),
    status),
    personalData());
}

// "Download my data" (the export as a JSON file) and deleting the account.
function personalData() {
  const download = async () => {
    const answer = await api("GET", "/user/export");
    const blob = new Blob([JSON.stringify(answer.data, null, 2)], { type: "application/json" });
    const link = h("a", { download: "orderdesk-my-data.json" });
    link.href = URL.createObjectURL(blob);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  };
  return h("section", { class: "card", "data-testid": "my-data" },
    h("h2", {}, t("myData")),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", "data-testid": "download-data", onclick: download }, t("downloadData"))),
    form({ id: "delete-account-form" }, async (el) => {
      if (!confirm(t("confirmDelete"))) return;
      await api("POST", "/user/delete", { password: el.password.value });
      me = null;
      location.hash = "#/login";
    },
    h("p", { class: "muted" }, t("deleteWarning")),
    field(t("password"), input("password", { type: "password", autocomplete: "current-password", required: true })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, t("deleteAccount")))));
}

// ---------------------------------------------------------------- start

// Views render one after another, in the order of navigation: a slow view can never
// paint over the one the user went to next.
let routing = Promise.resolve();
const navigate = () => (routing = routing.then(route));

async function start() {
  try {
    me = (await api("GET", "/user/detail")).data;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    me = null;
  }
  window.addEventListener("hashchange", navigate);
  await navigate();
}

start();
