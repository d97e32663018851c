/*
  The live preview's page. It reads three things from the server:
    GET /api/state            every question (sidebar), the problems, the stale banner
                              (?since=N: only the questions changed since version N)
    GET /api/question/<id>    the selected question's panes (complete HTML documents)
    GET /events               one "change" event after every rebuild
  and never reloads itself: on each change it fetches both again and swaps in place only what
  changed, so the page's scroll positions stay where the editor left them.

  Safety rules kept throughout: text from the JSON goes in with textContent only (never
  innerHTML); an output's HTML goes only into the srcdoc of a sandboxed iframe. A frame may run
  scripts only when it is an Anki pane whose document loads MathJax, and then never with
  allow-same-origin; the other frames get allow-same-origin without scripts, so the page can
  measure their height.
*/
"use strict";

/* ---------- constants ---------- */

const GRADES = ["junior", "middle", "senior"];
const ROW_HEIGHT = 60; // px; .row in style.css has the same height
const OVERSCAN = 6; // rows drawn above and below the visible ones
const PHONE_WIDTH = 375;
const EMAIL_WIDTHS = [600, 375];
const KIND_LABELS = {
  "anki-front": "Anki · front",
  "anki-back": "Anki · back",
  telegram: "Telegram post",
  quiz: "Telegram quiz",
  digest: "Email digest",
};
/* The server names counters in the content's language; the page's chrome is English. A name
   it does not know is shown as the server wrote it. A part's suffix (" 2/3") is kept. */
const COUNTER_LABELS = {
  "символы": "characters",
  "сущности": "entities",
  "байты HTML": "HTML bytes",
  "вопрос": "question",
  "варианты": "options",
  "самый длинный вариант": "longest option",
  "пояснение": "explanation",
};
const PROVISIONAL = "Provisional: the lock file has no slot for it yet; the next build decides.";
const LOOK_LABELS = { light: "Light", night: "Night", dark: "Dark", plain: "" };

/* ---------- what the page holds ---------- */

const app = {
  state: null, // the last /api/state
  byId: new Map(), // id -> question summary
  haystacks: [], // lower-case search text per question, same order as state.questions
  severity: new Map(), // id -> "error" | "warning" (the worst of its problems)
  problemCounts: new Map(), // id -> how many problems the state's list names for it
  visible: [], // indices into state.questions that pass the filters
  selected: null, // the selected question's id
  editorSelected: undefined, // the last "selected" the server reported
  question: null, // the last /api/question/<id>
  shownVersion: -1,
  timeline: [], // the last updates: when each step ended (performance.now()), for bench/preview.py
  filters: { text: "", grades: new Set(), tags: new Set() },
  modes: { anki: "both", email: "light" },
  panes: new Map(), // pane key -> PaneView
};

/* ---------- small DOM helpers ---------- */

function $(id) {
  return document.getElementById(id);
}

/** An element with a class and a text, both optional; text goes in as textContent. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setText(node, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

function formatCount(n) {
  return n.toLocaleString("en-US");
}

async function fetchJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error : `${url}: ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/* ---------- the sidebar: a windowed list ---------- */
/*
  At 10,000 questions only the rows in view exist (about 20, plus OVERSCAN on each side);
  a spacer gives the list its full height. Filtering changes the array of visible indices and
  redraws those few rows: the DOM is never rebuilt per keystroke.
*/

const list = { root: null, spacer: null, rows: [], frame: 0 };

function setupList() {
  list.root = $("list");
  list.spacer = $("list-spacer");
  list.root.addEventListener("scroll", scheduleListDraw, { passive: true });
  list.root.addEventListener("click", onListClick);
  list.root.addEventListener("keydown", onListKey);
  new ResizeObserver(scheduleListDraw).observe(list.root);
}

function scheduleListDraw() {
  if (!list.frame) list.frame = requestAnimationFrame(drawList);
}

function drawList() {
  list.frame = 0;
  const questions = app.state ? app.state.questions : [];
  const count = app.visible.length;
  list.spacer.style.height = `${count * ROW_HEIGHT}px`;
  const first = Math.max(0, Math.floor(list.root.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const shown = Math.ceil(list.root.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
  const last = Math.min(count, first + shown);
  while (list.rows.length < last - first) list.rows.push(makeRow());
  list.rows.forEach((row, k) => {
    const position = first + k;
    if (position >= last) {
      row.hidden = true;
      return;
    }
    row.hidden = false;
    row.style.transform = `translateY(${position * ROW_HEIGHT}px)`;
    fillRow(row, questions[app.visible[position]]);
  });
}

function makeRow() {
  const row = el("div", "row");
  row.setAttribute("role", "option");
  const top = el("div", "row-top");
  top.append(el("span", "row-number"), el("span", "row-date"), el("span", "row-grades"));
  top.append(el("span", "row-problems"));
  row.append(top, el("div", "row-words"));
  list.root.append(row);
  return row;
}

/** Fill a row with one question; skipped when the row already shows exactly that. */
function fillRow(row, q) {
  const problemCount = Math.max(q.problems, app.problemCounts.get(q.id) || 0);
  const signature = `${q.id}|${q.number}|${q.date}|${q.provisional}|${q.grades}|${problemCount}|${q.words}`;
  const selected = q.id === app.selected;
  row.classList.toggle("selected", selected);
  row.setAttribute("aria-selected", String(selected));
  row.dataset.severity = app.severity.get(q.id) || "";
  if (row.dataset.signature === signature) return;
  row.dataset.signature = signature;
  row.dataset.id = q.id;
  const [top, words] = row.children;
  const [number, date, grades, problems] = top.children;
  setText(number, `№ ${q.number}`);
  setText(date, q.date || "no date");
  date.classList.toggle("missing", !q.date);
  date.classList.toggle("provisional", Boolean(q.provisional));
  date.title = q.provisional ? PROVISIONAL : "";
  grades.replaceChildren(...q.grades.map((g) => gradeChip(g, true)));
  setText(problems, problemCount ? String(problemCount) : "");
  problems.title = problemCount ? `${problemCount} problem(s)` : "";
  setText(words, q.words);
  row.title = `${q.id}: ${q.words}`;
}

function gradeChip(grade, short) {
  const chip = el("span", `chip grade grade-${grade}`, short ? grade.slice(0, 3) : grade);
  chip.title = grade;
  return chip;
}

function onListClick(event) {
  const row = event.target.closest(".row");
  if (row && row.dataset.id) selectQuestion(row.dataset.id, { byUser: true });
}

function onListKey(event) {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  event.preventDefault();
  const questions = app.state ? app.state.questions : [];
  const position = app.visible.findIndex((i) => questions[i].id === app.selected);
  const step = event.key === "ArrowDown" ? 1 : -1;
  const next = Math.min(app.visible.length - 1, Math.max(0, position + step));
  if (app.visible.length) selectQuestion(questions[app.visible[next]].id, { byUser: true });
}

/** Scroll the list so that the selected question's row is in view. */
function revealSelected() {
  const questions = app.state ? app.state.questions : [];
  const position = app.visible.findIndex((i) => questions[i].id === app.selected);
  if (position < 0) return;
  const top = position * ROW_HEIGHT;
  const view = list.root;
  if (top < view.scrollTop) view.scrollTop = top;
  else if (top + ROW_HEIGHT > view.scrollTop + view.clientHeight) {
    view.scrollTop = top + ROW_HEIGHT - view.clientHeight;
  }
  scheduleListDraw();
}

/* ---------- search and filters ---------- */

function setupFilters() {
  const search = $("search");
  search.addEventListener("input", () => {
    app.filters.text = search.value.trim().toLowerCase();
    applyFilters();
  });
  const grades = $("grade-filters");
  for (const grade of GRADES) grades.append(filterChip("grade", grade, grade));
  grades.addEventListener("click", (event) => toggleFilter(event, app.filters.grades));
  $("tag-filters").addEventListener("click", (event) => toggleFilter(event, app.filters.tags));
  // "/" jumps to the search box, as on most sites with one.
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      search.focus();
    }
  });
}

function filterChip(kind, value, label) {
  const chip = el("button", `chip filter ${kind === "grade" ? `grade grade-${value}` : "tag"}`);
  chip.type = "button";
  chip.dataset.value = value;
  chip.setAttribute("aria-pressed", "false");
  chip.textContent = label;
  return chip;
}

function toggleFilter(event, set) {
  const chip = event.target.closest("button.filter");
  if (!chip) return;
  const value = chip.dataset.value;
  if (set.has(value)) set.delete(value);
  else set.add(value);
  chip.setAttribute("aria-pressed", String(set.has(value)));
  applyFilters();
}

/** Rebuild the tag chips only when the bank's set of tags changed. */
function updateTagChips(questions) {
  const counts = new Map();
  for (const q of questions) for (const t of q.tags) counts.set(t, (counts.get(t) || 0) + 1);
  const tags = [...counts.keys()].sort();
  const box = $("tag-filters");
  const key = tags.join(" ");
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  for (const tag of [...app.filters.tags]) if (!counts.has(tag)) app.filters.tags.delete(tag);
  box.replaceChildren(
    ...tags.map((tag) => {
      const chip = filterChip("tag", tag, `#${tag}`);
      chip.title = `${counts.get(tag)} question(s)`;
      chip.setAttribute("aria-pressed", String(app.filters.tags.has(tag)));
      return chip;
    }),
  );
}

function passes(q, index) {
  const f = app.filters;
  if (f.grades.size && !q.grades.some((g) => f.grades.has(g))) return false;
  if (f.tags.size && !q.tags.some((t) => f.tags.has(t))) return false;
  return !f.text || app.haystacks[index].includes(f.text);
}

function applyFilters() {
  const questions = app.state ? app.state.questions : [];
  const visible = [];
  for (let i = 0; i < questions.length; i++) if (passes(questions[i], i)) visible.push(i);
  app.visible = visible;
  const total = questions.length;
  const text =
    visible.length === total
      ? `${formatCount(total)} questions`
      : `${formatCount(visible.length)} of ${formatCount(total)} questions`;
  setText($("list-count"), text);
  scheduleListDraw();
}

/* ---------- the state: sidebar data, banner, problems ---------- */

function applyState(state) {
  app.state = state;
  app.byId = new Map(state.questions.map((q) => [q.id, q]));
  app.haystacks = state.questions.map((q) =>
    `${q.number} ${q.id} ${q.date || ""} ${q.words} ${q.tags.map((t) => `#${t}`).join(" ")}`.toLowerCase(),
  );
  app.severity = worstSeverities(state.problems);
  app.problemCounts = countByQuestion(state.problems);
  updateTagChips(state.questions);
  applyFilters();
  showBanner(state);
  showGeneralProblems(state.problems);
  setText($("version"), `v${state.version}`);
  document.body.classList.toggle("is-stale", state.stale);
  document.documentElement.dataset.stale = String(state.stale);
}

/* While the source does not validate, the questions are the last good list: their own counts
   do not know the new errors, which the problem list names. */
function countByQuestion(problems) {
  const counts = new Map();
  for (const p of problems) if (p.question) counts.set(p.question, (counts.get(p.question) || 0) + 1);
  return counts;
}

function worstSeverities(problems) {
  const worst = new Map();
  for (const p of problems) {
    if (p.question && worst.get(p.question) !== "error") worst.set(p.question, p.severity);
  }
  return worst;
}

function showBanner(state) {
  const banner = $("banner");
  banner.hidden = !state.stale;
  setText($("banner-text"), state.stale ? state.banner || "" : "");
}

function problemItem(problem) {
  const item = el("li", "problem");
  item.dataset.severity = problem.severity;
  item.append(
    el("span", "severity", problem.severity),
    el("code", "where", problem.where),
    el("span", "message", problem.message),
  );
  return item;
}

function showGeneralProblems(problems) {
  const general = problems.filter((p) => !p.question);
  $("general-problems").replaceChildren(...general.map(problemItem));
}

/* ---------- selection ---------- */

/** Which question to show after a new state: the editor's last change wins when it moves. */
function chooseSelection(state) {
  const editorMoved = state.selected && state.selected !== app.editorSelected;
  const firstTime = app.editorSelected === undefined;
  app.editorSelected = state.selected;
  const fromHash = idFromHash();
  if (firstTime && app.byId.has(fromHash)) return fromHash;
  if (editorMoved && app.byId.has(state.selected)) return state.selected;
  if (app.selected && app.byId.has(app.selected)) return app.selected;
  if (state.selected && app.byId.has(state.selected)) return state.selected;
  return state.questions.length ? state.questions[0].id : null;
}

/** The question the address names (``#q=<id>``), so a reload shows the same one. */
function idFromHash() {
  try {
    return decodeURIComponent(location.hash.replace(/^#q=/, ""));
  } catch {
    return "";
  }
}

async function selectQuestion(id, { byUser = false } = {}) {
  if (id === app.selected && app.question && app.question.id === id) return;
  app.selected = id;
  history.replaceState(null, "", id ? `#q=${encodeURIComponent(id)}` : location.pathname);
  revealSelected();
  if (byUser) $("detail").scrollTop = 0;
  await loadQuestion(id);
}

async function loadQuestion(id, prefetched) {
  if (!id) {
    showQuestion(null);
    return;
  }
  try {
    const question = prefetched ? await prefetched : await fetchJSON(questionUrl(id));
    if (id === app.selected) showQuestion(question);
  } catch (error) {
    if (error.status === 404 && id === app.selected) showQuestion(null);
    else showConnection("error", error.message);
  }
}

function questionUrl(id) {
  return `/api/question/${encodeURIComponent(id)}`;
}

/* ---------- the selected question ---------- */

function showQuestion(question) {
  // An update of the question on screen keeps what the editor is reading in place.
  const same = question && app.question && question.id === app.question.id;
  if (same) keepInView(() => showQuestionNow(question));
  else showQuestionNow(question);
}

function showQuestionNow(question) {
  app.question = question;
  const summary = question ? app.byId.get(question.id) : null;
  $("empty").hidden = Boolean(question);
  $("question-head").hidden = !question;
  if (question) {
    showQuestionHead(question, summary);
    $("problems").replaceChildren(...question.problems.map(problemItem));
  }
  updatePanes(question ? question.panes : []);
  app.shownVersion = question ? question.version : app.state ? app.state.version : -1;
  document.documentElement.dataset.version = String(app.shownVersion);
  document.documentElement.dataset.selected = question ? question.id : "";
}

function showQuestionHead(question, summary) {
  document.title = summary ? `№ ${summary.number} ${question.id} · Live preview` : "Live preview";
  setText($("q-number"), summary ? `№ ${summary.number}` : "");
  setText($("q-id"), question.id);
  const date = $("q-date");
  setText(date, summary ? summary.date || "no publishing date" : "");
  date.classList.toggle("provisional", Boolean(summary && summary.provisional));
  date.title = summary && summary.provisional ? PROVISIONAL : "";
  $("q-grades").replaceChildren(...(summary ? summary.grades.map((g) => gradeChip(g)) : []));
  $("q-tags").replaceChildren(...(summary ? summary.tags.map((t) => el("span", "chip tag", `#${t}`)) : []));
  setText($("q-words"), summary ? summary.words : "");
  $("stale-mark").hidden = !(app.state && app.state.stale);
}

/* ---------- panes ---------- */
/*
  A pane is one output of the question (card front, card back, post, quiz, digest block). Its
  frames are the looks it is shown in: the Anki card light and/or night at phone width, the
  digest at 600 and 375 px, light and/or dark. A pane's view is kept across updates; a frame
  gets a new srcdoc only when the document it would show changed.
*/

/* The light documents first, the ones that load MathJax (a megabyte of script each) once
   those have loaded and been painted: loaded together, the cards would hold up the post and
   the email, which show an edit at once. A newer update cancels an older one's cards still
   waiting. */
const HEAVY_WAIT_MS = 300;
let paneGeneration = 0;

function assignInTurn(documents) {
  const generation = ++paneGeneration;
  const heavy = documents.filter(([frame, html]) => isScripted(frame, html));
  const light = documents.filter((pair) => !heavy.includes(pair));
  const loads = light.filter(([frame, html]) => assignFrame(frame, html)).map(([f]) => loaded(f));
  if (!heavy.length) return;
  const assignHeavy = () => {
    if (generation === paneGeneration) for (const [frame, html] of heavy) assignFrame(frame, html);
  };
  if (!loads.length) assignHeavy();
  else Promise.race([Promise.all(loads), delay(HEAVY_WAIT_MS)]).then(afterPaint).then(assignHeavy);
}

/* Resolves once the browser has painted what is on the page now: the frame after the next
   animation frame (an animation frame's callbacks run just before its paint). */
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function loaded(frame) {
  return new Promise((resolve) => frame.iframe.addEventListener("load", resolve, { once: true }));
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/* A pane keeps its view while its kind stays (the digest's week may change under it). */
function paneKeys(panes) {
  const seen = new Map();
  return panes.map((pane) => {
    const n = (seen.get(pane.kind) || 0) + 1;
    seen.set(pane.kind, n);
    return `${pane.kind}|${n}`;
  });
}

function updatePanes(panes) {
  const box = $("panes");
  const keys = paneKeys(panes);
  const documents = []; // [frame, html]: assigned once every pane is in place
  panes.forEach((pane, i) => {
    let view = app.panes.get(keys[i]);
    if (!view) {
      view = createPaneView(pane);
      app.panes.set(keys[i], view);
    }
    documents.push(...updatePaneView(view, pane));
    if (box.children[i] !== view.root) box.insertBefore(view.root, box.children[i] || null);
  });
  assignInTurn(documents);
  for (const [key, view] of app.panes) {
    if (keys.includes(key)) continue;
    for (const [frameKey, frame] of view.frameViews) dropFrame(view, frameKey, frame);
    view.root.remove();
    app.panes.delete(key);
  }
}

function createPaneView(pane) {
  const root = el("section", `pane pane-${pane.kind}`);
  root.dataset.kind = pane.kind;
  const head = el("header", "pane-head");
  const titles = el("div", "pane-titles");
  titles.append(el("span", "pane-kind"));
  head.append(titles, el("code", "pane-file"), el("div", "pane-counters"));
  const frames = el("div", "pane-frames");
  root.append(head, frames);
  return { root, head, frames, frameViews: new Map(), pane: null };
}

function updatePaneView(view, pane) {
  view.pane = pane;
  const [titles, file, counters] = view.head.children;
  const label = KIND_LABELS[pane.kind] || pane.kind;
  setText(titles.children[0], pane.variant ? `${label} · ${pane.variant}` : label);
  titles.title = pane.title; // the server's own name for the pane
  setText(file, pane.file);
  file.title = `The output this pane shows: ${pane.file}`;
  showCounters(counters, pane);
  return syncFrames(view, frameSpecs(pane.kind), pane.html);
}

function counterLabel(name) {
  const [, base, part] = /^(.*?)((?: \d+\/\d+)?)$/.exec(name);
  return (COUNTER_LABELS[base] || base) + part;
}

function showCounters(box, pane) {
  const chips = pane.counters.map((c) => {
    const text = `${counterLabel(c.name)} ${formatCount(c.value)} / ${formatCount(c.limit)}`;
    const chip = el("span", "counter", text);
    const level = c.value > c.limit ? "over" : c.value > 0.9 * c.limit ? "near" : "ok";
    chip.dataset.level = level;
    chip.title = level === "over" ? `Over the limit of ${c.limit}` : `Limit ${c.limit}`;
    return chip;
  });
  if (pane.parts > 1) chips.push(el("span", "counter parts", `${pane.parts} parts`));
  const key = chips.map((c) => `${c.textContent}:${c.dataset.level || ""}`).join(",");
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.replaceChildren(...chips);
  }
}

/** The looks a pane of this kind is shown in, after the Anki and email switches. */
function frameSpecs(kind) {
  if (kind.startsWith("anki")) {
    const looks = app.modes.anki === "both" ? ["light", "night"] : [app.modes.anki];
    return looks.map((look) => ({ look, width: PHONE_WIDTH }));
  }
  if (kind === "digest") {
    const looks = app.modes.email === "both" ? ["light", "dark"] : [app.modes.email];
    return looks.flatMap((look) => EMAIL_WIDTHS.map((width) => ({ look, width })));
  }
  return [{ look: "plain", width: PHONE_WIDTH }];
}

/** Make the pane's frames match its looks; returns the [frame, html] pairs to assign. */
function syncFrames(view, specs, html) {
  const keys = specs.map((s) => `${s.look}@${s.width}`);
  const documents = [];
  specs.forEach((spec, i) => {
    let frame = view.frameViews.get(keys[i]);
    const fresh = !frame;
    if (fresh) {
      frame = createFrame(spec, view.pane);
      view.frameViews.set(keys[i], frame);
    }
    if (view.frames.children[i] !== frame.root) {
      view.frames.insertBefore(frame.root, view.frames.children[i] || null);
    }
    if (fresh) fitFrame(frame);
    documents.push([frame, html]);
  });
  for (const [key, frame] of view.frameViews) {
    if (!keys.includes(key)) dropFrame(view, key, frame);
  }
  return documents;
}

/* ---------- frames ---------- */

const frames = new Set(); // every live frame, to route the height messages of frame.js

function createFrame(spec, pane) {
  const root = el("figure", "frame");
  root.dataset.look = spec.look;
  root.dataset.width = String(spec.width);
  const caption = [LOOK_LABELS[spec.look], `${spec.width} px`].filter(Boolean).join(" · ");
  const box = el("div", "frame-box");
  const iframe = document.createElement("iframe");
  iframe.title = `${KIND_LABELS[pane.kind] || pane.kind}: ${caption}`;
  iframe.style.width = `${spec.width}px`;
  iframe.style.colorScheme = spec.look === "night" || spec.look === "dark" ? "dark" : "light";
  iframe.setAttribute("sandbox", "allow-same-origin");
  box.append(iframe);
  root.append(el("figcaption", "frame-caption", caption), box);
  const frame = { root, box, iframe, spec, html: null, height: 320, scripted: false };
  frame.kind = pane.kind;
  frame.assignedAt = 0; // when it got its document (performance.now())
  frame.drawnAt = 0; // when frame.js last said MathJax had drawn it
  iframe.addEventListener("load", () => {
    frame.loadedAt = performance.now();
    measureFrame(frame);
  });
  frames.add(frame);
  return frame;
}

function dropFrame(view, key, frame) {
  if (frame.observer) frame.observer.disconnect();
  frame.root.remove();
  frames.delete(frame);
  view.frameViews.delete(key);
}

/** Give the frame its document for its look; false (nothing done) when that did not change. */
/* Scripts run only in an Anki pane whose document loads MathJax: the script element is the
   card document's own (the content's text arrives escaped and cannot write one). */
function isScripted(frame, html) {
  return frame.kind.startsWith("anki") && /<script\b[^>]*\ssrc="\/mathjax\//.test(html);
}

function assignFrame(frame, html) {
  const scripted = isScripted(frame, html);
  const doc = lookOf(scripted ? withHeightReport(html) : html, frame.spec.look);
  if (doc === frame.html) return false;
  frame.html = doc;
  frame.scripted = scripted;
  frame.assignedAt = performance.now();
  // The sandbox applies from the next navigation on, so it is set before the srcdoc.
  const sandbox = scripted ? "allow-scripts" : "allow-same-origin";
  if (frame.iframe.getAttribute("sandbox") !== sandbox) frame.iframe.setAttribute("sandbox", sandbox);
  frame.iframe.srcdoc = doc;
  return true;
}

/** The document as it looks in night mode (Anki) or dark mode (email), or unchanged. */
function lookOf(html, look) {
  if (look === "night") return withBodyClasses(html, ["nightMode", "night_mode"]);
  if (look === "dark") return forceColorScheme(html, "dark");
  if (look === "light") return forceColorScheme(html, "light");
  return html;
}

/* Anki marks night mode with classes on <body>; the document is parsed inert (DOMParser runs
   no script and loads nothing), given the classes, and written back. */
function withBodyClasses(html, classes) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.body.classList.add(...classes);
  return `<!DOCTYPE html>\n${doc.documentElement.outerHTML}`;
}

/* The email's dark mode is a prefers-color-scheme media query: the light copy turns it off and
   the dark copy on, whatever the machine's own setting. */
function forceColorScheme(html, scheme) {
  const on = "(min-width: 0px)";
  const off = "(max-width: 0px)";
  return html.replace(/\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)/gi, (_, which) =>
    which.toLowerCase() === scheme ? on : off,
  );
}

function withHeightReport(html) {
  return `${html}\n<script src="/assets/frame.js"></script>`;
}

/** Size a frame to its document (same-origin frames: the page can read them). */
function measureFrame(frame) {
  if (frame.scripted) return; // frame.js reports these
  const doc = frame.iframe.contentDocument;
  if (!doc || !doc.documentElement) return;
  const resize = () => setFrameHeight(frame, doc.documentElement.getBoundingClientRect().height);
  resize();
  if (frame.observer) frame.observer.disconnect();
  frame.observer = new ResizeObserver(resize);
  frame.observer.observe(doc.documentElement);
}

/* Messages from frame.js in the scripted frames: a height, or "MathJax has drawn". */
function onFrameMessage(event) {
  const data = event.data || {};
  const frame = [...frames].find((f) => f.scripted && f.iframe.contentWindow === event.source);
  if (!frame) return;
  const height = data.previewFrameHeight;
  if (typeof height === "number" && Number.isFinite(height)) setFrameHeight(frame, height);
  if (data.previewFrameDrawn === true) frame.drawnAt = performance.now();
}

function setFrameHeight(frame, height) {
  const next = Math.max(80, Math.min(Math.ceil(height), 20000));
  if (next === frame.height && frame.iframe.style.height) return;
  keepInView(() => {
    frame.height = next;
    frame.iframe.style.height = `${frame.height}px`;
    fitFrame(frame);
  });
}

/* Run ``change`` (new text, a frame grown or shrunk) without moving what the editor is
   looking at: the pane at the top of the view keeps its place on the screen. The browser's
   own scroll anchoring does not cover this: a frame's new document and the height it reports
   later are not changes it anchors against, so a pane could drift by a line or two. */
function keepInView(change) {
  const scroller = scrollingBox();
  const pane = paneAtTop(scroller);
  const before = pane ? pane.getBoundingClientRect().top : 0;
  change();
  if (!pane || !pane.isConnected) return;
  const moved = pane.getBoundingClientRect().top - before;
  if (Math.abs(moved) >= 1) scroller.scrollBy(0, moved);
}

/* What scrolls the panes: the detail column on a wide screen, the page on a phone. */
function scrollingBox() {
  const detail = $("detail");
  const own = getComputedStyle(detail).overflowY;
  return (own === "auto" || own === "scroll") && detail.scrollHeight > detail.clientHeight
    ? detail
    : window;
}

/* The first pane whose bottom is below the top of the visible area, if the view has been
   scrolled at all (at the top, nothing needs keeping). */
function paneAtTop(scroller) {
  const scrolled = scroller === window ? window.scrollY : scroller.scrollTop;
  if (scrolled <= 0) return null;
  const top = scroller === window ? 0 : scroller.getBoundingClientRect().top;
  for (const pane of $("panes").children) {
    if (pane.getBoundingClientRect().bottom > top) return pane;
  }
  return null;
}

/* A frame wider than its pane (the 600 px email on a phone) is scaled down to fit, so it is
   seen whole at its own width instead of being cut. */
function fitFrame(frame) {
  const room = frame.root.parentElement ? contentWidth(frame.root.parentElement) : 0;
  const narrow = room > 0 && room < frame.spec.width;
  // A phone-width frame on a narrower screen is simply that screen's width: it is a phone.
  const fluid = narrow && frame.spec.width <= PHONE_WIDTH;
  const width = fluid ? room : frame.spec.width;
  const scale = narrow && !fluid ? room / frame.spec.width : 1;
  frame.iframe.style.width = `${width}px`;
  frame.iframe.style.transform = scale < 1 ? `scale(${scale})` : "";
  frame.box.style.width = `${Math.floor(width * scale)}px`;
  frame.box.style.height = `${Math.ceil(frame.height * scale)}px`;
  frame.root.classList.toggle("scaled", scale < 1);
}

function contentWidth(node) {
  const style = getComputedStyle(node);
  return node.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

function fitAllFrames() {
  for (const frame of frames) if (frame.root.isConnected) fitFrame(frame);
}

/* ---------- display modes ---------- */

function setupModes() {
  for (const kind of ["anki", "email"]) {
    const saved = localStorage.getItem(`preview.${kind}`);
    const group = document.querySelector(`.segmented[data-mode="${kind}"]`);
    const values = [...group.querySelectorAll("button")].map((b) => b.dataset.value);
    if (values.includes(saved)) app.modes[kind] = saved;
    group.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (button) setMode(kind, button.dataset.value);
    });
    markMode(kind);
  }
}

function setMode(kind, value) {
  app.modes[kind] = value;
  localStorage.setItem(`preview.${kind}`, value);
  markMode(kind);
  if (app.question) updatePanes(app.question.panes);
}

function markMode(kind) {
  const group = document.querySelector(`.segmented[data-mode="${kind}"]`);
  for (const button of group.querySelectorAll("button")) {
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", String(button.dataset.value === app.modes[kind]));
  }
}

/* ---------- live updates ---------- */
/*
  One refresh at a time: an event that arrives during a refresh makes it run once more at the
  end, so a burst of saves costs at most two round trips and the last one always wins.
*/

const updates = { running: false, again: false, hint: null, lost: false };

async function refresh(hint) {
  updates.hint = hint || updates.hint;
  if (updates.running) {
    updates.again = true;
    return;
  }
  updates.running = true;
  try {
    do {
      updates.again = false;
      const next = updates.hint;
      updates.hint = null;
      await refreshOnce(next);
    } while (updates.again);
  } catch (error) {
    showConnection("error", error.message);
  } finally {
    updates.running = false;
  }
}

/** Fetch the state and the question to show. The question is fetched at the same time as
    the state: the one the event names when the editor moved to it, else the one shown. */
async function refreshOnce(hint) {
  const started = performance.now();
  const statePromise = fetchState();
  const moved = hint && hint.selected && hint.selected !== app.editorSelected;
  // At start-up nothing is shown yet: the question the address names is the likely one.
  const guess = moved ? hint.selected : app.selected || idFromHash() || null;
  const prefetched = guess ? fetchJSON(questionUrl(guess)) : null;
  if (prefetched) prefetched.catch(() => {}); // awaited below only when it is the one needed
  const state = await statePromise;
  const stateArrived = performance.now();
  applyState(state);
  const stateApplied = performance.now();
  const id = chooseSelection(state);
  const changed = id !== app.selected;
  app.selected = id;
  if (changed) {
    history.replaceState(null, "", id ? `#q=${encodeURIComponent(id)}` : location.pathname);
    revealSelected();
  }
  await loadQuestion(id, id && id === guess ? prefetched : null);
  showConnection("live");
  logUpdate({ hint, started, stateArrived, stateApplied, shown: performance.now() });
}

/** The state. Once the page has one, only the list's entries that changed since are fetched
    (an edit changes one of 10,000) and put in place; the server sends the whole state
    instead when it no longer knows the page's version. */
async function fetchState() {
  const have = app.state ? app.state.version : null;
  const state = await fetchJSON(have === null ? "/api/state" : `/api/state?since=${have}`);
  if (state.since === undefined) return state;
  if (!app.state || state.since !== app.state.version) return fetchJSON("/api/state");
  const questions = app.state.questions.slice(0, state.count);
  for (const [index, entry] of state.changed) questions[index] = entry;
  state.questions = questions;
  delete state.changed;
  return state;
}

/** Keep the last few updates' timings (read by bench/preview.py through window.preview). */
function logUpdate(entry) {
  app.timeline.push({
    eventAt: entry.hint && entry.hint.receivedAt,
    started: entry.started,
    stateArrived: entry.stateArrived,
    stateApplied: entry.stateApplied,
    panesAssigned: entry.shown,
  });
  if (app.timeline.length > 20) app.timeline.shift();
}

function connectEvents() {
  const source = new EventSource("/events");
  source.addEventListener("open", () => {
    showConnection("live");
    // After a lost connection, rebuilds may have been missed: catch up once.
    if (updates.lost) refresh();
    updates.lost = false;
  });
  source.addEventListener("change", (event) => {
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = null;
    }
    if (data && app.state && data.version === app.state.version && !updates.running) return;
    if (data) data.receivedAt = performance.now();
    refresh(data);
  });
  source.addEventListener("error", () => {
    updates.lost = true;
    showConnection("reconnecting");
  });
}

function showConnection(state, detail) {
  const badge = $("connection");
  const labels = { live: "live", reconnecting: "reconnecting…", error: "error", connecting: "connecting…" };
  badge.dataset.state = state;
  setText(badge, labels[state] || state);
  badge.title = detail || "";
}

/* ---------- start ---------- */

function start() {
  setupModes();
  setupList();
  setupFilters();
  addEventListener("message", onFrameMessage);
  new ResizeObserver(fitAllFrames).observe($("panes"));
  window.preview = {
    get version() {
      return app.shownVersion;
    },
    get selected() {
      return app.selected;
    },
    get timeline() {
      return app.timeline;
    },
    /** The frames that run MathJax: when each got its document and when it was drawn. */
    get scriptedFrames() {
      return [...frames]
        .filter((f) => f.scripted && f.root.isConnected)
        .map((f) => ({ assignedAt: f.assignedAt, drawnAt: f.drawnAt }));
    },
    /** Every frame: its pane, look, and when it got its document and loaded it. */
    get frameTimes() {
      return [...frames].map((f) => ({
        kind: f.kind,
        look: f.spec.look,
        width: f.spec.width,
        assignedAt: f.assignedAt,
        loadedAt: f.loadedAt || 0,
      }));
    },
    select: (id) => selectQuestion(id, { byUser: true }),
  };
  refresh();
  connectEvents();
}

start();
