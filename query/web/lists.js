// 信用浙江 Credit Zhejiang: the blacklist and the joint-penalty checklist views, and the
// export buttons (CSV, JSON Lines) that the search results use too. Helpers: app.js.
//
// An export is fetched with the session's key (fetch() can send X-API-Key, a plain link
// cannot), kept as a Blob and saved under the service's file name (Content-Disposition)
// through a temporary <a download> on an object URL. So a rejected key or a busy service
// is a message on the page, not a page of JSON. The whole file is in the tab's memory
// until it is saved: fine for a checklist or a search, a province-wide blacklist is
// better fetched with curl (docs/query.md, "Exports").
"use strict";

(function () {
  const zj = window.zjcredit;
  const { $, el, bi, show, clear, dash } = zj;

  // The catalog's key sectors and departments (schemas/catalog/sectors.json; the browser
  // test checks these codes against it).
  const SECTORS = [
    ["court_defaulter", "失信被执行人", "Court-judgment defaulters"],
    ["major_tax_violation", "重大税收违法失信主体", "Major tax violations"],
    ["market_serious_illegal", "严重违法失信名单", "Serious illegal and dishonest"],
    ["abnormal_operation", "经营异常名录", "Abnormal operation"],
    ["wage_arrears", "拖欠农民工工资", "Wage arrears"],
    ["production_safety", "安全生产领域", "Production safety"],
    ["food_drug", "食品药品领域", "Food and drug"],
    ["environment", "环境保护领域", "Environment"],
    ["product_quality", "产品质量领域", "Product quality"],
    ["government_procurement", "政府采购领域", "Government procurement"],
    ["public_resource_trading", "公共资源交易领域", "Public-resource trading"],
  ];
  const DEPARTMENTS = [
    ["SAT", "税务总局", "Taxation"], ["SPC", "人民法院", "Courts"],
    ["SAMR", "市场监管总局", "Market regulation"], ["MOHRSS", "人力资源社会保障部", "Human resources"],
    ["MEE", "生态环境部", "Ecology and environment"], ["MEM", "应急管理部", "Emergency management"],
    ["NMPA", "药品监督管理局", "Medical products"], ["MOF", "财政部", "Finance"],
    ["NDRC", "发展改革委", "Development and reform"], ["PBOC", "中国人民银行", "People's Bank of China"],
    ["NFRA", "金融监督管理总局", "Financial regulation"], ["CUSTOMS", "海关总署", "Customs"],
    ["MNR", "自然资源部", "Natural resources"], ["MOHURD", "住房城乡建设部", "Housing and construction"],
    ["CSRC", "证监会", "Securities regulation"], ["NIA", "移民管理局", "Immigration"],
    ["NFGA", "林业和草原局", "Forestry and grassland"], ["CNIPA", "知识产权局", "Intellectual property"],
  ];

  // -- exports --------------------------------------------------------------------------
  const FORMATS = [["csv", "CSV"], ["jsonl", "JSON Lines"]];

  // The CSV and JSON Lines buttons of `route` (enterprises, blacklist, penalties) with the
  // view's `filters` (a URLSearchParams, without page and size) into `box`.
  function exportLinks(box, route, filters) {
    clear(box);
    box.append(el("span", { class: "label" }, bi("导出全部结果", "Export every match")));
    for (const [format, label] of FORMATS) {
      const params = new URLSearchParams(filters);
      params.set("format", format);
      const href = zj.API + "/" + route + "?" + params.toString();
      const link = el("a", { href: href, class: "export", id: box.id + "-" + format, "data-format": format },
        "⬇ " + label);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        download(link, href, "zjcredit-" + route + "." + format);
      });
      box.append(link);
    }
    box.append(el("span", { class: "export-state muted", id: box.id + "-state", "aria-live": "polite" }));
    show(box, true);
  }

  function fileName(disposition, fallback) {
    const m = /filename="([^"]+)"/.exec(disposition || "");
    return m ? m[1] : fallback;
  }

  async function download(link, href, fallback) {
    const state = link.parentNode.querySelector(".export-state");
    if (link.getAttribute("aria-busy") === "true") return; // one at a time per button
    link.setAttribute("aria-busy", "true");
    state.textContent = "正在导出… Exporting…";
    try {
      const response = await zj.request(href, { headers: { Accept: "*/*" } });
      const blob = await response.blob();
      const name = fileName(response.headers.get("content-disposition"), fallback);
      const url = URL.createObjectURL(blob);
      const save = el("a", { href: url, download: name, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      state.textContent = "已下载 Saved: " + name + " (" + Math.ceil(blob.size / 1024) + " KB)";
      state.setAttribute("data-file", name);
    } catch (error) {
      state.textContent = "";
      zj.showError(error);
    } finally {
      link.removeAttribute("aria-busy");
    }
  }

  // -- a list view: filters in the hash, a page of rows, a pager, the exports ------------
  function pageTable(box, heads, rows, empty) {
    const body = el("tbody", {});
    for (const [key, cells] of rows) {
      body.append(el("tr", { "data-uscc": key }, cells.map((c) => el("td", {}, c))));
    }
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: heads.length, class: "empty" }, empty)));
    box.append(el("table", { class: "list" },
      el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))), body));
  }

  function pager(box, page, onPage) {
    const pages = Math.max(1, Math.ceil(page.total / page.size));
    const prev = el("button", { type: "button", class: "prev" }, "上一页 ", el("span", { class: "en" }, "Prev"));
    const next = el("button", { type: "button", class: "next" }, "下一页 ", el("span", { class: "en" }, "Next"));
    prev.disabled = page.page <= 1;
    next.disabled = page.page >= pages;
    prev.addEventListener("click", () => onPage(page.page - 1));
    next.addEventListener("click", () => onPage(page.page + 1));
    box.append(el("nav", { class: "pager" }, prev,
      el("span", { class: "muted" }, "第 " + page.page + " / " + pages + " 页 (page " + page.page + " of " + pages + ")"),
      next));
  }

  const firmLink = (item) => el("a", { href: "#uscc=" + encodeURIComponent(item.uscc), class: "name" }, item.name || item.uscc);

  // A view over `route`: `fields` are its filters (hash names = API names = the form's
  // <select id="<prefix>-<field>">), `columns(item)` its cells.
  function listView(prefix, section, route, fields, heads, columns, empty) {
    function read(params) {
      const filters = new URLSearchParams();
      for (const f of fields) {
        const v = (params.get(f) || "").trim();
        if (v) filters.set(f, v);
      }
      return filters;
    }
    function hash(filters, page) {
      const p = new URLSearchParams(filters);
      p.set("view", prefix);
      if (page > 1) p.set("page", String(page));
      return "#" + p.toString();
    }
    return {
      init() {
        $(prefix + "-form").addEventListener("submit", (event) => {
          event.preventDefault();
          const p = new URLSearchParams();
          for (const f of fields) p.set(f, $(prefix + "-" + f).value);
          zj.go(hash(read(p), 1));
        });
      },
      leave() { show($(section), false); },
      async enter(params) {
        const filters = read(params);
        const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
        for (const f of fields) {
          const input = $(prefix + "-" + f);
          input.value = filters.get(f) || (input.tagName === "SELECT" ? input.options[0].value : "");
        }
        show($(section), true);
        const list = $(prefix + "-list");
        const query = new URLSearchParams(filters);
        query.set("page", String(page));
        query.set("size", String(zj.PAGE_SIZE));
        show($("loading"), true);
        try {
          const answer = await zj.getJSON(zj.API + "/" + route + "?" + query.toString());
          clear(list);
          $(prefix + "-total").textContent = "共 " + answer.total + " 条 (" + answer.total + " total)";
          pageTable(list, heads, answer.items.map((item) => [item.uscc, columns(item)]), empty);
          pager(list, answer, (n) => zj.go(hash(filters, n)));
          exportLinks($(prefix + "-exports"), route, filters);
        } catch (error) {
          clear(list);
          $(prefix + "-total").textContent = "";
          show($(prefix + "-exports"), false);
          zj.showError(error);
        } finally {
          show($("loading"), false);
        }
      },
    };
  }

  const blacklist = listView("blacklist", "blacklist", "blacklist", ["sector", "city", "active"],
    [bi("企业名称", "Name"), bi("统一社会信用代码", "USCC"), bi("城市", "City"), bi("领域", "Sector"),
     bi("决定文书号", "Decision no."), bi("认定部门", "Listed by"), bi("列入日期", "Listed on"),
     bi("计划移出 / 移出", "Planned end / ended")],
    (x) => [firmLink(x), el("span", { class: "code" }, x.uscc), zj.cityName(x.city_code, x.city),
      x.sector_name || x.sector, el("span", { class: "code" }, x.decision_no),
      x.department_name || x.department, dash(x.listed_on),
      x.in_force ? dash(x.planned_end_on) : dash(x.ended_on)],
    bi("没有符合条件的记录", "No listing matches"));

  const penalties = listView("penalties", "penalties-view", "penalties", ["department", "uscc"],
    [bi("企业名称", "Name"), bi("统一社会信用代码", "USCC"), bi("惩戒措施", "Measure"),
     bi("实施部门", "Enforcing department"), bi("领域", "Sector"), bi("决定文书号", "Decision no.")],
    (m) => [firmLink(m), el("span", { class: "code" }, m.uscc), m.measure,
      m.department_name || m.department, m.sector_name || m.sector, el("span", { class: "code" }, m.decision_no)],
    bi("没有需要实施的惩戒措施", "No measure to apply"));

  function options(select, list) {
    for (const [code, zh, en] of list) select.append(el("option", { value: code }, zh + " " + en));
  }
  const formInit = blacklist.init;
  blacklist.init = () => {
    options($("blacklist-sector"), SECTORS);
    options($("blacklist-city"), zj.CITIES.map(([code, zh, en]) => [code, zh, en]));
    formInit();
  };
  const penaltiesInit = penalties.init;
  penalties.init = () => {
    options($("penalties-department"), DEPARTMENTS);
    penaltiesInit();
  };

  zj.exportLinks = exportLinks;
  zj.SECTORS = SECTORS; // the watchlist's changes name the sectors too
  zj.views.blacklist = blacklist;
  zj.views.penalties = penalties;
})();
