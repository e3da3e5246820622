// 信用浙江 Credit Zhejiang: the upload view (issue 16). A department without Kafka access
// sends its file (CSV or JSON Lines) with POST /v1/ingest/{source}?name=<file name>,
// under its department key (the key form, app.js); the page shows the summary the
// service answers and the rows it rejected, each with its line and reason. The file
// goes as the request's body, as the route reads it (not a multipart form).
"use strict";

(function () {
  const zj = window.zjcredit;
  const { $, el, bi, show, clear, dash } = zj;

  // The sources and who owns them (schemas/owners.py).
  const SOURCES = [
    ["tax", "纳税信用", "Tax credit", "SAT"],
    ["enterprise", "企业登记", "Registrations", "SAMR"],
    ["trademark", "商标", "Trademarks", "SAMR"],
    ["patent", "专利", "Patents (not folded yet)", "CNIPA"],
    ["blacklist", "黑名单", "Blacklist listings", "每个部门报送本部门的 each department its own"],
  ];
  // The body's type from the file's name: browsers give .jsonl none.
  function contentType(name) {
    if (/\.xlsx$/i.test(name)) {
      return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    }
    return /\.(jsonl|ndjson)$/i.test(name) ? "application/x-ndjson" : "text/csv";
  }

  function fact(list, label, value) {
    list.append(el("dt", {}, label), el("dd", {}, value));
  }

  function render(summary) {
    const box = $("upload-result");
    clear(box);
    const facts = el("dl", { class: "facts", id: "upload-summary" });
    fact(facts, bi("文件", "File"), el("span", { class: "code" }, dash(summary.name)));
    fact(facts, bi("数据类别 · 部门", "Source · department"), summary.source + " · " + summary.department);
    fact(facts, bi("读取行数", "Rows read"), el("span", { id: "upload-read" }, String(summary.read)));
    fact(facts, bi("已发送并确认", "Sent and acknowledged"),
      el("span", { id: "upload-sent" }, summary.sent + " / " + summary.acknowledged));
    fact(facts, bi("拒收行数", "Rows rejected"), el("span", { id: "upload-rejected-count" }, String(summary.rejected)));
    const reasons = Object.entries(summary.rejects_by_reason || {}).map(([r, n]) => r + " × " + n).join("，");
    if (reasons) fact(facts, bi("拒收原因", "Reasons"), reasons);
    fact(facts, "SHA-256", el("span", { class: "code small" }, summary.sha256));
    box.append(facts);
    const rows = summary.rejected_rows || [];
    if (rows.length) {
      box.append(el("h3", {}, bi("拒收的行", "Rejected rows"),
        rows.length < summary.rejected ? el("span", { class: "muted" }, " (" + rows.length + " / " + summary.rejected + ")") : null));
      const body = el("tbody", { id: "upload-rejected" });
      for (const r of rows) {
        body.append(el("tr", { "data-line": r.line, "data-reason": r.reason },
          el("td", { class: "num" }, String(r.line)), el("td", { class: "code" }, r.reason),
          el("td", { class: "code" }, dash(r.field)), el("td", {}, dash(r.message))));
      }
      box.append(el("table", { class: "list" }, el("thead", {}, el("tr", {},
        [bi("行", "Line"), bi("原因", "Reason"), bi("字段", "Field"), bi("说明", "Message")].map((h) => el("th", {}, h)))),
        body));
    }
    show(box, true);
  }

  async function upload() {
    const file = $("upload-file").files[0];
    if (!file) return;
    const source = $("upload-source").value;
    zj.hideMessage();
    show($("upload-result"), false);
    const state = $("upload-state");
    state.textContent = "正在上传… Uploading…";
    $("upload-go").disabled = true;
    try {
      const url = zj.API + "/ingest/" + encodeURIComponent(source) + "?name=" + encodeURIComponent(file.name);
      const response = await zj.request(url, { method: "POST", body: file,
        headers: { "Content-Type": contentType(file.name) } });
      render(await response.json());
      state.textContent = "";
    } catch (error) {
      state.textContent = "";
      zj.showError(error);
      if (!zj.apiKey()) zj.route();
    } finally {
      $("upload-go").disabled = false;
    }
  }

  zj.views.upload = {
    init() {
      for (const [code, zh, en, owner] of SOURCES) {
        $("upload-source").append(el("option", { value: code }, zh + " " + en + " (" + owner + ")"));
      }
      $("upload-form").addEventListener("submit", (event) => { event.preventDefault(); upload(); });
      $("upload-ask-key").addEventListener("click", () => zj.askKey());
    },
    leave() { show($("upload"), false); },
    enter() {
      show($("upload"), true);
      const keyed = Boolean(zj.apiKey());
      show($("upload-nokey"), !keyed);
      show($("upload-form"), keyed);
      if (!keyed) zj.askKey();
    },
  };
})();
