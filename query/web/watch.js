// 信用浙江 Credit Zhejiang: the watchlist view. The key's watchlist (add one code, paste
// many, remove one, clear) and the watched firms' changes: the first page from
// GET /v1/changes, then live from the Server-Sent Events stream GET /v1/changes/stream.
// The key comes from the key form (app.js); without one the view asks for it.
//
// The stream needs the key, and EventSource cannot send a header (nor should the key go
// in a URL, where logs keep it). So the page reads the stream with fetch() (which sends
// X-API-Key) and parses the SSE text itself from the body's reader (parseSSE). When
// the stream ends or breaks it reconnects after 3 s with since=<the last cursor seen>,
// so no change is missed or shown twice; it stops on leaving the view, forgetting the
// key, or a 401 / 403.
"use strict";

(function () {
  const zj = window.zjcredit;
  const { $, el, bi, show, clear, dash } = zj;
  const SHOWN = 200;          // changes kept on the page, newest first
  const PAGE = 1000;          // the first GET /v1/changes page; the stream brings the rest
  const RETRY_MS = 3000;
  // What separates pasted codes: blanks and line ends (an Excel column), commas and
  // semicolons, Chinese ones too. Every piece is sent, so the service names each malformed one.
  const SEPARATORS = /[\s,;，；、]+/;

  const KINDS = {
    grade: ["信用等级变化", "Grade"], score_band: ["评分档变化", "Score band"],
    listed: ["列入黑名单", "Listed"], lifted: ["移出黑名单", "Lifted"],
    escalated: ["惩戒升级", "Escalated"], tax_grade: ["纳税信用等级变化", "Tax grade"],
    credit_line_refused: ["授信不予通过", "Credit line refused"],
  };

  let stream = null;          // the AbortController of the live stream
  let changes = [];           // newest first
  let cursor = null;          // the last cursor seen
  let visit = 0;              // counts entries to the view: an older one's late answer is dropped

  // -- the watchlist --------------------------------------------------------------------
  async function loadWatchlist() {
    const answer = await zj.getJSON(zj.API + "/watchlist");
    renderWatchlist(answer);
    return answer;
  }

  function renderWatchlist(answer) {
    $("watch-count").textContent = "(" + answer.count + ")";
    const body = $("watch-rows");
    clear(body);
    for (const item of answer.items) {
      const remove = el("button", { type: "button", class: "small-button remove", "data-uscc": item.uscc },
        bi("移除", "Remove"));
      remove.addEventListener("click", () => act(async () => {
        await zj.sendJSON("DELETE", zj.API + "/watchlist/" + encodeURIComponent(item.uscc));
        await loadWatchlist();
      }));
      body.append(el("tr", { "data-uscc": item.uscc },
        el("td", {}, item.name ? el("a", { href: "#uscc=" + encodeURIComponent(item.uscc), class: "name" }, item.name)
          : el("span", { class: "muted" }, bi("尚未登记", "Not known yet"))),
        el("td", { class: "code" }, item.uscc),
        el("td", {}, dash((item.added_at || "").replace("T", " ").slice(0, 19))),
        el("td", {}, remove)));
    }
    if (!answer.items.length) {
      body.append(el("tr", {}, el("td", { colspan: 4, class: "empty" },
        bi("关注列表为空：在上方输入或粘贴统一社会信用代码", "The watchlist is empty: enter or paste credit codes above"))));
    }
    $("watch-clear").disabled = !answer.items.length;
  }

  function pastedCodes(text) {
    return Array.from(new Set(text.split(SEPARATORS).filter(Boolean)));
  }

  // The codes a 422 refused, each with its rule and reason, under the box (the text stays
  // in the box to be corrected): the service names every malformed code of a whole-list PUT.
  function showRefused(error, codes) {
    const box = $("watch-refused");
    clear(box);
    const b = error.body || {};
    const items = (b.details || []).map((d) => {
      let message = d.message || "";
      if (codes.length === 1 && !message.startsWith(codes[0])) message = codes[0] + ": " + message;
      return el("li", { "data-rule": d.rule || "" }, el("span", { class: "code" }, message),
        d.rule ? el("span", { class: "muted" }, " (" + d.rule + ")") : null);
    });
    box.append(el("strong", {}, bi("有代码格式错误，关注列表未改变", "Malformed codes: the watchlist is unchanged")),
      el("p", {}, b.message || ""), el("ul", {}, items));
    show(box, true);
  }

  async function addCodes() {
    const codes = pastedCodes($("watch-codes").value);
    show($("watch-refused"), false);
    if (!codes.length) return;
    await act(async () => {
      if (codes.length === 1) {
        await zj.sendJSON("PUT", zj.API + "/watchlist/" + encodeURIComponent(codes[0]));
      } else {
        // PUT /v1/watchlist replaces the whole list: send the list kept plus the new codes.
        const current = await zj.getJSON(zj.API + "/watchlist");
        const all = Array.from(new Set([...current.items.map((i) => i.uscc), ...codes]));
        await zj.sendJSON("PUT", zj.API + "/watchlist", { codes: all });
      }
      $("watch-codes").value = "";
      const answer = await loadWatchlist();
      zj.showMessage({ kind: "ok", title: bi("已加入关注", "Added"),
        text: codes.length + " 个代码已加入；共关注 " + answer.count + " 家。"
          + codes.length + " code(s) added; " + answer.count + " watched.", details: [] });
    }, codes);
  }

  // Runs a watchlist change; a 422 lists the refused codes, any other error is the message.
  async function act(job, codes) {
    zj.hideMessage();
    try {
      await job();
    } catch (error) {
      if (error instanceof zj.ApiError && error.status === 422 && codes) showRefused(error, codes);
      else zj.showError(error);
      if (!zj.apiKey()) zj.route(); // the key was rejected: back to asking for one
    }
  }

  // -- the changes ----------------------------------------------------------------------
  // A before or after value as a person reads it: a grade, a sector, the credit line's
  // eligibility; a list (the sectors of an escalation) joined; null is "—".
  function value(kind, v) {
    if (v === null || v === undefined) return "—";
    if (Array.isArray(v)) return v.map((x) => value(kind, x)).join("、");
    if (typeof v === "boolean") return v ? "可授信 eligible" : "不予授信 not eligible";
    if (kind === "grade") return zj.gradeBadge(v);
    const sector = (zj.SECTORS || []).find((s) => s[0] === v);
    if (sector) return sector[1] + " " + sector[0];
    return String(v);
  }

  function describe(change) {
    const kind = KINDS[change.kind] || [change.kind, ""];
    const detail = change.detail || {};
    return [el("span", { class: "change-kind" }, bi(kind[0], kind[1])), " ",
      el("span", { class: "change-values" }, value(change.kind, change.before), " → ", value(change.kind, change.after)),
      detail.decision_no ? el("span", { class: "muted code" }, " " + detail.decision_no) : null];
  }

  function renderChanges() {
    const body = $("change-rows");
    clear(body);
    for (const c of changes) {
      body.append(el("tr", { "data-cursor": c.cursor, "data-uscc": c.uscc, "data-kind": c.kind },
        el("td", {}, dash((c.changed_at || "").replace("T", " ").slice(0, 19))),
        el("td", { class: "code" }, c.uscc),
        el("td", {}, c.name ? el("a", { href: "#uscc=" + encodeURIComponent(c.uscc), class: "name" }, c.name) : "—"),
        el("td", {}, describe(c))));
    }
    if (!changes.length) {
      body.append(el("tr", {}, el("td", { colspan: 4, class: "empty" },
        bi("关注的企业暂无变化", "No change for the watched firms yet"))));
    }
  }

  // Changes in the feed's order (oldest first), each once: the newest goes on top.
  function take(items) {
    for (const c of items) {
      if (changes.some((x) => x.cursor === c.cursor)) continue;
      changes.unshift(c);
      cursor = c.cursor;
    }
    if (changes.length > SHOWN) changes.length = SHOWN;
  }

  async function firstPage() {
    const answer = await zj.getJSON(zj.API + "/changes?limit=" + PAGE);
    take(answer.items);
    cursor = answer.next;  // the stream goes on from here, the pages after this one too
    renderChanges();
  }

  // The stream's state, and the cursor it went on from (data-since: "" from the start).
  function live(state, since) {
    const box = $("stream-state");
    box.className = "stream-state " + state;
    box.setAttribute("data-state", state);
    if (since !== undefined) box.setAttribute("data-since", since || "");
    clear(box);
    box.append({ live: bi("实时更新中", "Live"), connecting: bi("连接中…", "Connecting…"),
      stopped: bi("已停止", "Stopped") }[state]);
  }

  // Server-Sent Events text (what the stream sent so far, not yet parsed): the whole
  // events in it, each {type, id, data}, and the rest (an event not ended yet). Lines end
  // in LF or CRLF (a CR alone, which the standard also allows, is not read: the service
  // does not send it); a blank line ends an event; `:` lines are comments (keep-alives);
  // an event without data is none (the standard's rule: the stream's `retry:` line).
  function parseSSE(text) {
    text = text.replace(/\r\n/g, "\n");
    const end = text.lastIndexOf("\n\n");
    if (end < 0) return [[], text];
    const events = [];
    for (const block of text.slice(0, end).split("\n\n")) {
      const event = { type: "message", id: null, data: [] };
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? "" : line.slice(colon + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (field === "data") event.data.push(v);
        else if (field === "event") event.type = v;
        else if (field === "id") event.id = v;
      }
      if (event.data.length) events.push({ type: event.type, id: event.id, data: event.data.join("\n") });
    }
    return [events, text.slice(end + 2)];
  }

  // One SSE event: a change (`event: change`, its JSON in data), or the service's
  // `event: error` (PostgreSQL went away; the stream ends and the page reconnects).
  function dispatch(event) {
    if (event.type === "error") {
      zj.showMessage({ kind: "warn", title: bi("变化推送中断，正在重连", "The stream broke; reconnecting"),
        text: event.data, details: [] });
      return;
    }
    if (event.type !== "change") return;
    let change;
    try { change = JSON.parse(event.data); } catch (_) { return; }
    if (!change.cursor && event.id) change.cursor = event.id;
    take([change]);
    renderChanges();
  }

  async function follow(signal) {
    while (!signal.aborted) {
      live("connecting");
      const since = cursor;
      try {
        const params = since ? "?since=" + encodeURIComponent(since) : "";
        const response = await zj.request(zj.API + "/changes/stream" + params,
          { headers: { Accept: "text/event-stream" }, signal: signal, cache: "no-store" });
        live("live", since);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value: chunk, done } = await reader.read();
          if (done) break;
          const [events, rest] = parseSSE(buffer + chunk);
          buffer = rest;
          for (const event of events) dispatch(event);
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof zj.ApiError && (error.status === 401 || error.status === 403)) {
          zj.showError(error);
          live("stopped");
          if (!zj.apiKey()) zj.route();
          return;
        }
      }
      if (signal.aborted) break;
      live("connecting");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  function stop() {
    if (stream) stream.abort();
    stream = null;
  }

  // -- the view -------------------------------------------------------------------------
  zj.parseSSE = parseSSE; // for the browser test
  zj.views.watch = {
    init() {
      $("watch-add").addEventListener("submit", (event) => { event.preventDefault(); addCodes(); });
      $("watch-ask-key").addEventListener("click", () => zj.askKey());
      $("watch-clear").addEventListener("click", () => {
        if (!window.confirm("清空关注列表？Clear the whole watchlist?")) return;
        act(async () => {
          await zj.sendJSON("DELETE", zj.API + "/watchlist");
          await loadWatchlist();
        });
      });
    },
    leave() {
      visit++;
      stop();
      show($("watch"), false);
    },
    async enter() {
      const mine = ++visit;
      stop();
      show($("watch"), true);
      show($("watch-refused"), false);
      const keyed = Boolean(zj.apiKey());
      show($("watch-nokey"), !keyed);
      show($("watch-body"), keyed);
      if (!keyed) {
        zj.askKey();
        return;
      }
      changes = [];
      cursor = null;
      try {
        await loadWatchlist();
        await firstPage();
      } catch (error) {
        if (mine !== visit) return;
        zj.showError(error);
        if (!zj.apiKey()) { show($("watch-nokey"), true); show($("watch-body"), false); }
        return;
      }
      if (mine !== visit) return; // the view was left, or entered again, meanwhile
      stream = new AbortController();
      follow(stream.signal);
    },
  };
})();
