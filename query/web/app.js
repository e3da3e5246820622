// 信用浙江 Credit Zhejiang: the lookup page. Plain DOM, no framework, no build step.
//
// Every piece of data goes into the page through textContent or setAttribute, never
// innerHTML: names, reasons and decision numbers come from departments' files.
// The state lives in the URL hash (#q=...&city=...&grade=...&page=N or #uscc=..., the other
// views #view=blacklist|penalties|watch|upload&...), so the back button and a copied link
// work. The other views live in lists.js (blacklist, penalty checklist, exports), watch.js
// (the watchlist and its changes) and upload.js (a department's file); they use the
// helpers this file puts on
// window.zjcredit and register themselves in zjcredit.views before the page starts
// (on DOMContentLoaded, after every script has run).
//
// An API key is entered once in the key form (a bank's or department's: "使用密钥 Use a
// key" in the nav, or the watchlist view, which needs one), kept in sessionStorage (this
// tab only, gone when it closes; never localStorage, never in a URL) and sent as
// X-API-Key on every request the page makes, the exports too, so the whole page then
// reads as that bank or department. The page shows the key by its id only.
"use strict";

(function () {
  const API = "/v1";
  const PAGE_SIZE = 20;
  const USCC_SHAPE = /^[0-9A-Za-z]{18}$/; // 18 characters: a code, sent straight to the profile

  const CITIES = [
    ["330100", "杭州", "Hangzhou"], ["330200", "宁波", "Ningbo"], ["330300", "温州", "Wenzhou"],
    ["330400", "嘉兴", "Jiaxing"], ["330500", "湖州", "Huzhou"], ["330600", "绍兴", "Shaoxing"],
    ["330700", "金华", "Jinhua"], ["330800", "衢州", "Quzhou"], ["330900", "舟山", "Zhoushan"],
    ["331000", "台州", "Taizhou"], ["331100", "丽水", "Lishui"],
  ];
  const GRADES = {
    EXCELLENT: ["优秀", "Excellent"], GOOD: ["良好", "Good"],
    FAIR: ["中等", "Fair"], POOR: ["较差", "Poor"],
  };
  const STATUS = { ACTIVE: ["存续", "Active"], DEREGISTERED: ["注销", "Deregistered"] };
  const SIZES = {
    MICRO: ["微型", "Micro"], SMALL: ["小型", "Small"],
    MEDIUM: ["中型", "Medium"], LARGE: ["大型", "Large"],
  };
  const ZJTX = { PROVINCIAL: ["省级专精特新", "Provincial SRDI"], NATIONAL: ["国家级专精特新", "National SRDI"] };
  // Tax grades from best to worst; M (new firms) sits between B and C (score >= 70).
  const TAX_ORDER = ["A", "B", "M", "C", "D"];

  const $ = (id) => document.getElementById(id);
  const KEY_STORE = "zjcredit.apiKey";

  // The session's API key ("" for none). sessionStorage may be refused (a privacy mode).
  function apiKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (_) { return ""; }
  }
  function setApiKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORE, key); else sessionStorage.removeItem(KEY_STORE);
    } catch (_) { /* nothing kept: the key then lasts until the page is left */ }
    showKeyState();
  }
  // Accept plus the key's header, if there is a key.
  function headers(extra) {
    const h = { Accept: "application/json", ...(extra || {}) };
    const key = apiKey();
    if (key) h["X-API-Key"] = key;
    return h;
  }
  // The key as shown: its id (zjc_<id>_...), never its secret.
  function keyLabel(key) {
    const m = /^(zjc_[^_]+)_/.exec(key);
    return m ? m[1] + "_…" : key.slice(0, 4) + "…";
  }

  // el("td", {class: "x"}, "text", childNode, ...): text children become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(key, String(value));
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  // "中文 English": the Chinese label first, the English one beside it, muted.
  function bi(zh, en) {
    return el("span", { class: "bi" }, zh, " ", el("span", { class: "en" }, en));
  }
  function show(node, on) { node.hidden = !on; }
  function clear(node) { node.replaceChildren(); }
  const dash = (v) => (v === null || v === undefined || v === "" ? "—" : v);

  function gradeBadge(grade, zh) {
    const [gz, ge] = GRADES[grade] || [zh || grade || "—", ""];
    return el("span", { class: "badge grade-" + String(grade || "none").toLowerCase(), "data-grade": grade },
      zh || gz, ge ? el("span", { class: "en" }, " " + ge) : null);
  }
  function taxBadge(tax) {
    return el("span", { class: "tax tax-" + String(tax || "none").toLowerCase() }, dash(tax));
  }
  function cityName(code, name) {
    const found = CITIES.find((c) => c[0] === code);
    return name || (found ? found[1] : dash(code));
  }

  // -- talking to the API ---------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body, keyed) {
      super((body && body.message) || "HTTP " + status);
      this.status = status;
      this.body = body || {};
      this.keyed = Boolean(keyed); // a key was sent: a 401 means that key was rejected
    }
  }

  // fetch() with the key's header; an ApiError for an answer that is not 2xx.
  async function request(path, options) {
    const keyed = Boolean(apiKey());
    let response;
    try {
      response = await fetch(path, { ...(options || {}), headers: headers((options || {}).headers) });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, { message: String(err) }, keyed);
    }
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch (_) { body = null; }
      throw new ApiError(response.status, body, keyed);
    }
    return response;
  }

  async function getJSON(path) {
    const response = await request(path);
    try { return await response.json(); } catch (_) { return null; }
  }

  // PUT/DELETE/POST with a JSON body (or none); the answer's JSON, null for a 204.
  async function sendJSON(method, path, body) {
    const options = { method: method };
    if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers = { "Content-Type": "application/json" };
    }
    const response = await request(path, options);
    if (response.status === 204) return null;
    try { return await response.json(); } catch (_) { return null; }
  }

  // What a person should read for each error the API answers (docs/query.md, "Errors").
  function explain(error) {
    const b = error.body || {};
    const details = (b.details || []).map((d) =>
      [d.field, d.rule].filter(Boolean).join(" / ") + (d.message ? ": " + d.message : ""));
    switch (error.status) {
      case 404:
        return { kind: "warn", title: bi("未找到该企业", "Not found"),
          text: b.message || "没有这个统一社会信用代码的企业。No enterprise has this code.", details };
      case 422:
        return { kind: "warn", title: bi("输入有误", "Invalid input"),
          text: b.message || "请检查输入。Please check the input.", details };
      case 401:
        if (error.keyed) {
          return { kind: "error", title: bi("密钥被拒绝", "Key rejected"),
            text: "该 API 密钥未知或已吊销，已从本页忘记；请重新输入。The API key is unknown or revoked; "
              + "the page has forgotten it: enter a valid one. (" + (b.message || "HTTP 401") + ")", details };
        }
        return { kind: "error", title: bi("需要密钥", "Key required"),
          text: "请点击上方“使用密钥”输入银行或部门的 API 密钥。Enter a bank's or department's API key "
            + "with \"Use a key\" above. (" + (b.message || "HTTP 401") + ")", details };
      case 403:
        return { kind: "error", title: bi("无权访问", "Not allowed"),
          text: "此密钥的角色不能使用该功能。This key's role may not do this. " + (b.message || ""), details };
      case 503:
        // Only database_unavailable (or no answer body) is the database; the others
        // (exports_busy, ingest_busy, ingest_unavailable, publishing_failed, ...) say why.
        if (b.error && b.error !== "database_unavailable") {
          return { kind: "error", title: bi("服务暂时不可用", "Service unavailable"),
            text: (b.message || b.error) + "（请稍后重试 please try again later）", details: [] };
        }
        return { kind: "error", title: bi("服务暂时不可用", "Service unavailable"),
          text: "信用数据库暂时无法访问，请稍后重试。The credit database cannot be reached; please try again later.",
          details: b.message ? [b.message] : [] };
      case 0:
        return { kind: "error", title: bi("无法连接服务", "Cannot reach the service"), text: b.message || "", details: [] };
      default:
        return { kind: "error", title: bi("服务出错", "Service error"),
          text: (b.message || "") + " (HTTP " + error.status + ")", details: [] };
    }
  }

  // An error as the page's message; a rejected key (401 with a key) is forgotten first.
  function showError(error) {
    if (!(error instanceof ApiError)) error = new ApiError(-1, { message: String(error) });
    if (error.status === 401 && error.keyed) setApiKey("");
    showMessage(explain(error));
  }

  function showMessage(info) {
    const box = $("message");
    clear(box);
    box.className = "message " + info.kind;
    append(box, [el("strong", {}, info.title), info.text ? el("p", {}, info.text) : null]);
    if (info.details && info.details.length) {
      box.append(el("ul", {}, info.details.map((d) => el("li", {}, d))));
    }
    show(box, true);
  }
  function hideMessage() { show($("message"), false); }

  // -- search ---------------------------------------------------------------------------
  async function search(state) {
    const params = new URLSearchParams({ q: state.q, page: String(state.page), size: String(PAGE_SIZE) });
    if (state.city) params.set("city", state.city);
    if (state.grade) params.set("grade", state.grade);
    const page = await getJSON(API + "/enterprises?" + params.toString());
    renderResults(page, state);
    const filters = new URLSearchParams({ q: state.q });
    if (state.city) filters.set("city", state.city);
    if (state.grade) filters.set("grade", state.grade);
    zj.exportLinks($("results-exports"), "enterprises", filters);
  }

  function renderResults(page, state) {
    const body = $("rows");
    clear(body);
    for (const item of page.items) {
      const link = el("a", { href: "#uscc=" + encodeURIComponent(item.uscc), class: "name" }, item.name || item.uscc);
      body.append(el("tr", { "data-uscc": item.uscc },
        el("td", {}, link),
        el("td", { class: "code" }, item.uscc),
        el("td", {}, cityName(item.city_code, item.city)),
        el("td", {}, gradeBadge(item.grade, item.grade_zh), " ", el("span", { class: "score" }, item.score)),
        el("td", {}, taxBadge(item.tax_grade)),
        el("td", {}, item.listed_sectors && item.listed_sectors.length
          ? el("span", { class: "flag" }, "失信 ", el("span", { class: "en" }, "Listed"))
          : "—"),
      ));
    }
    if (!page.items.length) {
      body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" },
        bi("没有符合条件的企业", "No enterprise matches"))));
    }
    // A search counts to a cap: past it, total is the cap and total_exact is false.
    const total = page.total + (page.total_exact === false ? "+" : "");
    const pages = Math.max(1, Math.ceil(page.total / page.size));
    const of = page.total_exact === false ? Math.max(pages, page.page) + "+" : pages;
    $("total").textContent = "共 " + total + " 家 (" + total + " total)";
    $("page").textContent = "第 " + page.page + " / " + of + " 页 (page " + page.page + " of " + of + ")";
    $("prev").disabled = page.page <= 1;
    $("next").disabled = page.total_exact === false
      ? page.items.length < page.size : page.page >= pages;
    $("prev").onclick = () => go({ ...state, page: page.page - 1 });
    $("next").onclick = () => go({ ...state, page: page.page + 1 });
    show($("results"), true);
  }

  // -- profile --------------------------------------------------------------------------
  async function profile(uscc) {
    const p = await getJSON(API + "/enterprises/" + encodeURIComponent(uscc));
    renderProfile(p);
  }

  function row(label, value) {
    return [el("dt", {}, label), el("dd", {}, value)];
  }

  function renderProfile(p) {
    const card = $("profile");
    clear(card);
    const [sz, se] = STATUS[p.status] || [p.status, ""];
    const size = SIZES[p.size_class];
    const zjtx = p.zjtx && p.zjtx.active ? ZJTX[p.zjtx.level] : null;

    card.append(el("div", { class: "card-head" },
      el("div", {},
        el("h2", { id: "profile-name" }, p.name || p.uscc),
        el("p", { class: "code-line" }, bi("统一社会信用代码", "USCC"), " ", el("span", { class: "code", id: "profile-uscc" }, p.uscc)),
        zjtx ? el("span", { class: "badge zjtx" }, zjtx[0], el("span", { class: "en" }, " " + zjtx[1])) : null,
      ),
      el("div", { class: "scorebox" },
        el("div", { class: "label" }, bi("信用评分", "Score")),
        // The public gets no score (docs/query.md "Roles and keys"): the grade says it.
        el("div", { class: "score-big", id: "profile-score" }, p.score === null
          ? el("small", {}, "不公开 ", el("span", { class: "en" }, "not public"))
          : [p.score, el("small", {}, " / 1000")]),
        el("div", { id: "profile-grade" }, bi("信用等级", "Grade"), " ", gradeBadge(p.grade, p.grade_zh)),
      ),
    ));

    card.append(el("dl", { class: "facts" },
      row(bi("登记状态", "Status"), [sz, se ? el("span", { class: "en" }, " " + se) : null]),
      row(bi("所在城市", "City"), cityName(p.city_code, p.city)),
      row(bi("行业", "Industry"), dash(p.industry_code || p.industry_section)),
      row(bi("企业规模", "Size"), size ? [size[0], el("span", { class: "en" }, " " + size[1])] : dash(p.size_class)),
      row(bi("成立日期", "Established"), dash(p.established_on)),
      row(bi("纳税信用等级", "Tax grade"), el("span", { id: "profile-tax" }, taxBadge(p.tax_grade))),
      row(bi("评价日期", "As of"), dash(p.as_of)),
    ));

    const grid = el("div", { class: "grid" });
    grid.append(el("div", { class: "box" },
      el("h3", {}, bi("纳税信用等级历史", "Tax grade history")),
      taxChart(p.tax_grades || [])));
    grid.append(el("div", { class: "box" },
      el("h3", {}, bi("评分构成", "Score factors")),
      factorsTable(p.factors || [])));
    card.append(grid);

    card.append(el("h3", {}, bi("黑名单 · 失信名单", "Active listings"),
      " ", el("span", { class: "muted" }, "(" + (p.blacklist || []).length + ")")));
    card.append(table("listings",
      [bi("领域", "Sector"), bi("决定文书号", "Decision no."), bi("认定部门", "Listed by"),
       bi("列入日期", "Listed on"), bi("计划移出", "Planned end"), bi("事由", "Reason")],
      (p.blacklist || []).map((x) => [
        x.sector_name || x.sector, el("span", { class: "code" }, x.decision_no),
        x.department_name || x.department, dash(x.listed_on), dash(x.planned_end_on), dash(x.reason),
      ]),
      bi("无在列记录", "Not on any list")));

    const sectorNames = new Map((p.blacklist || []).map((x) => [x.sector, x.sector_name]));
    card.append(el("h3", {}, bi("联合惩戒措施", "Joint penalties"),
      " ", el("span", { class: "muted" }, "(" + (p.penalties || []).length + ")")));
    card.append(table("penalties",
      [bi("惩戒措施", "Measure"), bi("实施部门", "Enforcing department"), bi("领域", "Sector"), bi("决定文书号", "Decision no.")],
      (p.penalties || []).map((m) => [
        m.measure, m.department_name ? [m.department_name, el("span", { class: "en" }, " " + m.department)] : m.department,
        m.sector_name || sectorNames.get(m.sector) || m.sector, el("span", { class: "code" }, m.decision_no),
      ]),
      bi("无联合惩戒措施", "No joint penalty in force")));

    const t = p.trademarks;
    if (t) {
      card.append(el("p", { class: "muted" },
        bi("注册商标", "Trademarks"), " " + t.registered + " · ",
        bi("驰名商标", "Well-known"), " " + t.well_known + " · ",
        bi("质押中", "Pledged"), " " + t.active_pledges));
    }
    card.append(...ipSection(p));
    if (p.hidden && p.hidden.length) {
      card.append(el("p", { class: "muted small" },
        bi("公开角色不显示：", "Hidden from the public role: "), p.hidden.join(", ")));
    }
    show(card, true);
  }

  const PATENT_KINDS = { INVENTION: ["发明", "Invention"], UTILITY_MODEL: ["实用新型", "Utility model"],
    DESIGN: ["外观设计", "Design"] };
  const PATENT_STATUS = { IN_FORCE: ["有效", "In force"], LAPSED: ["未缴年费终止", "Lapsed"],
    EXPIRED: ["期满终止", "Expired"], INVALIDATED: ["宣告无效", "Invalidated"],
    TRANSFERRED_OUT: ["已转让", "Transferred"] };
  const pair = (names, code) => names ? bi(names[0], names[1]) : dash(code);

  // 知识产权: counts for everyone; the patents, their pledges and the IP-pledge summary
  // for the roles that see amounts (docs/query.md "Roles and keys").
  function ipSection(p) {
    const n = p.patents || { invention: 0, utility_model: 0, design: 0 };
    const out = [el("h3", { id: "ip-head" }, bi("知识产权", "Intellectual property")),
      el("p", { id: "ip-counts" },
        bi("有效专利", "Patents in force"), ": ", bi("发明", "invention"), " " + n.invention + " · ",
        bi("实用新型", "utility model"), " " + n.utility_model + " · ",
        bi("外观设计", "design"), " " + n.design)];
    if (p.patent_holdings === null || p.patent_holdings === undefined) return out;
    out.push(table("patents",
      [bi("专利号", "Number"), bi("类型", "Kind"), bi("名称", "Title"), bi("状态", "Status"),
       bi("期满", "Term ends"), bi("质押", "Pledges")],
      p.patent_holdings.map((x) => [
        el("span", { class: "code" }, x.patent_no), pair(PATENT_KINDS[x.patent_kind], x.patent_kind),
        dash(x.title), pair(PATENT_STATUS[x.status], x.status), dash(x.term_ends_on),
        x.pledges.length ? x.pledges.map((q) => q.pledge_no + " " + (q.pledgee || "") +
          (q.secured_amount ? " " + q.secured_amount + " 元" : "")).join("; ") : "—",
      ]),
      bi("无专利记录", "No patent on record")));
    const ip = p.ip_pledge;
    if (ip) {
      out.push(el("p", { id: "ip-pledge" },
        bi("知识产权质押", "IP pledges"), " " + ip.active_pledge_count + " · ",
        bi("已担保", "secured"), " " + ip.secured_amount + " 元 · ",
        bi("可质押", "free to pledge"), " " + ip.pledgeable_trademarks.length + " ",
        bi("件商标", "marks"), ", " + ip.pledgeable_patents.length + " ", bi("件专利", "patents")));
    }
    return out;
  }

  function table(id, heads, rows, empty) {
    const body = el("tbody", {});
    for (const cells of rows) body.append(el("tr", {}, cells.map((c) => el("td", {}, c))));
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: heads.length, class: "empty" }, empty)));
    return el("table", { class: "list", id: id },
      el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))), body);
  }

  function factorsTable(factors) {
    return el("table", { class: "list compact" }, el("tbody", {},
      factors.map((f) => el("tr", {}, el("td", {}, f.label || f.code),
        el("td", { class: "num" }, (f.points > 0 ? "+" : "") + f.points)))));
  }

  // The tax grades by year as a small line chart: A at the top, D at the bottom.
  function taxChart(grades) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = String(text);
      return node;
    };
    if (!grades.length) return el("p", { class: "empty" }, bi("暂无纳税信用评价", "No tax grade yet"));
    const W = 360, H = 170, left = 34, right = 14, top = 14, bottom = 28;
    const step = (H - top - bottom) / (TAX_ORDER.length - 1);
    const x = (i) => grades.length === 1 ? (left + W - right) / 2 : left + i * (W - left - right) / (grades.length - 1);
    const y = (g) => top + Math.max(0, TAX_ORDER.indexOf(g)) * step;
    const chart = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", id: "tax-chart", role: "img",
      "aria-label": "纳税信用等级历史 Tax grade history" });
    TAX_ORDER.forEach((g, i) => {
      chart.append(svg("line", { x1: left, x2: W - right, y1: top + i * step, y2: top + i * step, class: "gridline" }));
      chart.append(svg("text", { x: left - 10, y: top + i * step + 4, class: "axis", "text-anchor": "end" }, g));
    });
    const points = grades.map((g, i) => x(i) + "," + y(g.grade)).join(" ");
    chart.append(svg("polyline", { points: points, class: "trend" }));
    grades.forEach((g, i) => {
      const dot = svg("circle", { cx: x(i), cy: y(g.grade), r: 5, class: "dot tax-" + g.grade.toLowerCase() });
      dot.append(svg("title", {}, g.year + ": " + g.grade + (g.score !== null ? " (" + g.score + ")" : "")
        + (g.direct_judgement ? " 直接判级 direct" : "") + (g.repaired ? " 已修复 repaired" : "")));
      chart.append(dot);
      chart.append(svg("text", { x: x(i), y: H - 8, class: "axis", "text-anchor": "middle" }, g.year));
    });
    return chart;
  }

  // -- navigation -----------------------------------------------------------------------
  function readHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    return {
      view: params.get("view") || "",
      params: params,
      uscc: params.get("uscc") || "",
      q: params.get("q") || "",
      city: params.get("city") || "",
      grade: params.get("grade") || "",
      page: Math.max(1, parseInt(params.get("page") || "1", 10) || 1),
    };
  }

  function go(state) {
    const params = new URLSearchParams();
    if (state.uscc) params.set("uscc", state.uscc);
    else {
      params.set("q", state.q);
      if (state.city) params.set("city", state.city);
      if (state.grade) params.set("grade", state.grade);
      if (state.page > 1) params.set("page", String(state.page));
    }
    const hash = "#" + params.toString();
    if (location.hash === hash) route(); else location.hash = hash;
  }

  const VIEWS = ["search", "blacklist", "penalties", "watch", "upload"];

  async function route() {
    const state = readHash();
    hideMessage();
    const view = zj.views[state.view] ? state.view : "search";
    for (const name of VIEWS) {
      const tab = $("tab-" + name);
      if (tab) tab.classList.toggle("active", name === view);
    }
    show($("search"), view === "search");
    for (const [name, v] of Object.entries(zj.views)) {
      if (name !== view && v.leave) v.leave();
    }
    if (view !== "search") {
      show($("results"), false);
      show($("profile"), false);
      await zj.views[view].enter(state.params);
      return;
    }
    if (!state.uscc && !state.q) {
      show($("results"), false);
      show($("profile"), false);
      return;
    }
    $("q").value = state.uscc || state.q;
    $("city").value = state.city;
    $("grade").value = state.grade;
    show($("loading"), true);
    try {
      if (state.uscc) {
        show($("results"), false);
        await profile(state.uscc);
      } else {
        show($("profile"), false);
        await search(state);
      }
    } catch (error) {
      show($("profile"), false);
      if (!state.uscc) show($("results"), false);
      showError(error);
    } finally {
      show($("loading"), false);
    }
  }

  function showKeyState() {
    const box = $("keystate");
    if (!box) return;
    clear(box);
    const key = apiKey();
    if (!key) {
      const open = el("button", { type: "button", id: "key-open", class: "small-button" }, bi("使用密钥", "Use a key"));
      open.addEventListener("click", () => askKey());
      append(box, [bi("公开访问", "Public"), " ", open]);
      return;
    }
    const forget = el("button", { type: "button", id: "key-forget", class: "small-button" }, bi("忘记密钥", "Forget key"));
    forget.addEventListener("click", () => { setApiKey(""); route(); });
    append(box, [bi("密钥", "Key"), " ", el("code", { id: "key-id" }, keyLabel(key)), " ", forget]);
  }

  // The key form: opened from the nav, or by a view that needs a key (the watchlist).
  // The secret is never shown back: the field is a password one, emptied once used.
  function askKey() {
    show($("key-form"), true);
    $("key").focus();
  }
  function keyForm() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      $("key").value = "";
      if (!key) return;
      setApiKey(key);
      show($("key-form"), false);
      route(); // the view again, now read as the key's role
    });
    $("key-cancel").addEventListener("click", () => { $("key").value = ""; show($("key-form"), false); });
  }

  function init() {
    showKeyState();
    keyForm();
    for (const [code, zh, en] of CITIES) $("city").append(el("option", { value: code }, zh + " " + en));
    for (const [code, [zh, en]] of Object.entries(GRADES)) $("grade").append(el("option", { value: code }, zh + " " + en));
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      const q = $("q").value.trim();
      if (!q) return;
      if (USCC_SHAPE.test(q)) go({ uscc: q.toUpperCase() });
      else go({ q: q, city: $("city").value, grade: $("grade").value, page: 1 });
    });
    for (const v of Object.values(zj.views)) if (v.init) v.init();
    window.addEventListener("hashchange", route);
    route();
  }

  // What lists.js, watch.js and upload.js use.
  const zj = window.zjcredit = {
    API, CITIES, PAGE_SIZE, $, el, append, bi, show, clear, dash, gradeBadge, taxBadge, cityName,
    ApiError, request, getJSON, sendJSON, explain, showError, showMessage, hideMessage,
    apiKey, setApiKey, keyLabel, askKey, go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
    route, views: {},
  };
  document.addEventListener("DOMContentLoaded", init);
})();
