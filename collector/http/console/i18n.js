// The console's words, Chinese first (a 96333 duty room reads Chinese), English for visitors.
// The event names are those of protocols/events.py (CATALOG); the codes are its GB/T 24476 codes
// (tests/console/test_i18n.py checks that every catalog event has both languages here).
// The chosen language is kept in localStorage ("console.lang"); zh-CN unless someone picks English.
"use strict";

const EVENTS = {
  //                           zh-CN (duty-room word)   English                                   GB/T code
  safety_circuit_open:     ["安全回路断路",          "Safety circuit open",                    "01"],
  door_open_too_long:      ["关门故障",              "Door fails to close",                    "02"],
  stop_outside_door_zone:  ["门区外停梯",            "Car stopped outside the door zone",      "04"],
  moving_with_door_open:   ["开门走梯",              "Unintended car movement (door open)",    "05"],
  run_timeout:             ["运行超时",              "Motor run-time limiter",                 "06"],
  position_lost:           ["楼层位置丢失",          "Floor position lost",                    "07"],
  controller_fault:        ["控制柜故障",            "Controller fault code",                  "08"],
  overtravel_top:          ["冲顶",                  "Overtravel at the top",                  "09"],
  overtravel_bottom:       ["蹲底",                  "Overtravel at the bottom",               "10"],
  entrapment:              ["困人",                  "Passengers trapped",                     "11"],
  door_reopen_repeated:    ["反复开关门",            "Door reopens repeatedly",                "14"],
  power_failure:           ["停电",                  "Mains power failure",                    "41"],
  inspection:              ["检修",                  "Inspection (maintenance) mode",          "43"],
  alarm_button:            ["轿厢报警按钮",          "Car alarm button pressed",               "90"],
  door_open_outside_zone:  ["门区外开门",            "Door open outside the door zone",        null],
  door_open_while_running: ["运行中开门",            "Door opened while running",              "08"],
  overspeed:               ["超速",                  "Overspeed",                              null],
  door_lock_lost:          ["门锁回路断开",          "Door lock circuit broke in travel",      null],
  comms_lost:              ["控制器通讯中断",        "Controller not answering",               null],
  device_offline:          ["网关离线",              "Gateway offline",                        null],
  // trend watch (docs/trend-watch.md): advisories for the maintenance company, never an alert
  trend_door_opening:      ["开门变慢（趋势）",      "Door opening slower than its baseline",  null],
  trend_door_closing:      ["关门变慢（趋势）",      "Door closing slower than its baseline",  null],
  trend_door_lock:         ["门锁闭合变慢（趋势）",  "Door lock slower than its baseline",     null],
  trend_door_reopens:      ["重开门增多（趋势）",    "Door re-opens more often than its baseline", null],
  trend_relevels:          ["再平层增多（趋势）",    "More re-levels than the baseline (leveling)", null],
  trend_stopping:          ["制停变慢（趋势）",      "Stopping takes longer than its baseline (brake)", null],
  trend_travel_time:       ["运行时间变长（趋势）",  "Trips take longer than their baseline",  null],
};

const WORDS = {
  // page
  title: ["电梯应急处置值守台", "Elevator duty console"],
  lang_switch: ["English", "中文"],
  sign_out: ["退出", "Sign out"],
  sign_in: ["登录", "Sign in"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  use_token: ["使用 API 令牌登录", "Sign in with an API token"],
  use_password: ["使用账号密码登录", "Sign in with an account"],
  api_token: ["API 令牌", "API token"],
  your_name: ["值班员姓名", "Your name"],
  your_name_hint: ["令牌登录时，每一步操作都以此姓名记录", "With a token, every step is recorded under this name"],
  platform_address: ["平台地址", "Platform address"],
  platform_address_hint: ["仅当救援、维保、统计作为独立进程运行时填写", "Only if rescue, maintenance and statistics run as their own process"],
  open_console: ["进入值守台", "Open console"],
  token_hint: ["令牌只保存在本浏览器标签页中，请向平台管理员索取。", "The token is kept for this browser tab only. Ask the platform administrator for it."],
  not_signed_in: ["未登录", "not signed in"],
  connecting: ["正在连接…", "connecting…"],
  live: ["实时推送 · 更新于 {t}", "live (push) · updated {t}"],
  reconnecting: ["推送中断，正在重连（{s} 秒无数据）", "push lost, reconnecting ({s} s without data)"],
  no_update: ["已 {s} 秒未更新——请检查网络或采集服务", "NO UPDATE FOR {s} s — check the network or the collector"],
  refused_token: ["令牌被拒绝：{m}", "The token was refused: {m}"],
  refused_login: ["用户名或密码错误", "Wrong username or password"],
  locked_out: ["账号已被锁定：{m}", "Account locked: {m}"],
  signed_in_as: ["{u}（{r}）", "{u} ({r})"],
  enter_name_first: ["请先在顶部填写值班员姓名：每一步操作都会记录姓名。", "Enter your name at the top first: every step is recorded with it."],
  nav_overview: ["总览", "Overview"],
  nav_elevators: ["电梯列表", "Elevators"],
  nav_reports: ["维保与统计", "Maintenance & statistics"],
  // banner
  trapped: ["困人", "PASSENGERS TRAPPED"],
  near_floor: ["{f} 层附近", "near floor {f}"],
  rescue_code: ["96333 救援码", "96333 rescue code"],
  company: ["维保单位", "Maintenance company"],
  phone: ["电话", "phone"],
  since_alarm: ["已困", "trapped for"],
  response_due: ["响应倒计时", "respond within"],
  arrival_due: ["到场倒计时", "arrive within"],
  overdue_by: ["已超时 {d}", "overdue by {d}"],
  responded_in: ["已响应（{d}）", "responded ({d})"],
  arrived_in: ["已到场（{d}）", "on site ({d})"],
  no_case_yet: ["尚未生成救援工单", "no rescue case yet"],
  case_label: ["工单 {c}：{s}", "case {c}: {s}"],
  escalated: ["已升级：{k}", "ESCALATED: {k}"],
  told: ["已通知：{w}", "told: {w}"],
  told_pending: ["通知发送中：{w}", "notifying: {w}"],
  told_failed: ["通知失败：{w}", "notification failed: {w}"],
  told_unknown: ["已按平台配置发出升级通知", "escalation sent to the configured recipients"],
  rescue_centre: ["救援中心", "rescue centre"],
  esc_no_response: ["超时未响应", "no response in time"],
  esc_no_arrival: ["超时未到场", "no arrival in time"],
  closed_but_active: ["工单 {c} 已关闭（{s}），但困人报警仍未解除！", "Case {c} is closed ({s}) but the entrapment alarm is still active!"],
  reopen: ["重新打开工单", "Reopen case"],
  new_case: ["新建工单", "New case"],
  silence_hint: ["点击“响应”确认后停止提示音", "The alert repeats until someone responds"],
  // sections
  cases: ["救援工单", "Rescue cases"],
  cases_open: ["（{n} 个处理中）", "({n} open)"],
  no_cases: ["没有处理中的救援工单。", "No open rescue cases."],
  alarms: ["当前报警", "Active alarms"],
  no_alarms: ["当前没有报警。", "No active alarms."],
  elevators: ["电梯", "Elevators"],
  elevators_count: ["（共 {n} 台，在线 {o} 台）", "({n}, {o} online)"],
  maintenance: ["维保合规", "Maintenance compliance"],
  last_30_days: ["近 30 天", "last 30 days"],
  overdue_elevators: ["超期未维保电梯", "Overdue elevators"],
  none_overdue: ["没有超期未维保的电梯。", "No elevator is overdue."],
  statistics: ["各区县故障与救援", "Faults and rescues per district"],
  faults: ["故障", "Faults"],
  entrapments: ["困人", "Entrapments"],
  mean_response: ["平均响应时间（秒）", "Mean time to respond (s)"],
  mean_arrival: ["平均到场时间（秒）", "Mean time to arrive (s)"],
  platform_missing: ["无法从 {h} 获取救援、维保和统计（{m}）。若平台作为独立进程运行，请退出并填写其地址（如 http://127.0.0.1:8081）。",
    "Rescue cases, maintenance and statistics are not available from {h} ({m}). If the platform runs as its own process, sign out and enter its address (e.g. http://127.0.0.1:8081)."],
  export_csv: ["导出 CSV", "Export CSV"],
  // columns
  col_case: ["工单", "Case"], col_elevator: ["电梯", "Elevator"], col_floor: ["楼层", "Floor"],
  col_status: ["状态", "Status"], col_since: ["困人时长", "Since entrapment"], col_responded: ["响应", "Responded"],
  col_on_site: ["到场", "On site"], col_next: ["下一步", "Next step"], col_alarm: ["报警", "Alarm"],
  col_raised: ["发生时间", "Raised"], col_active_for: ["持续", "Active for"], col_link: ["连接", "Link"],
  col_state: ["运行状态", "State"], col_door: ["门", "Door"], col_mode: ["模式", "Mode"],
  col_alarms: ["报警", "Alarms"], col_last_seen: ["最后通讯", "Last seen"], col_address: ["地址", "Address"],
  col_rescue_code: ["救援码", "Rescue code"], col_company: ["维保单位", "Company"],
  col_sessions: ["维保次数", "Sessions"], col_short: ["时长不足", "Too short"], col_mean_session: ["平均时长", "Mean session"],
  col_compliance: ["合规率", "Compliance"], col_last_maint: ["上次维保", "Last maintenance"], col_overdue_by: ["超期", "Overdue by"],
  col_district: ["区县", "District"], col_elevators: ["电梯数", "Elevators"], col_faults: ["故障", "Faults"],
  col_entrapments: ["困人", "Entrapments"], col_cases: ["救援工单", "Rescue cases"], col_false: ["误报", "False alarms"],
  col_resp_p90: ["响应 P90", "Response p90"], col_arr_p90: ["到场 P90", "Arrival p90"],
  col_within: ["30 分钟内到场", "Arrived within 30 min"], col_online: ["在线率", "Online"],
  col_time: ["时间", "Time"], col_event: ["事件", "Event"], col_action: ["变化", "Change"],
  all_districts: ["全部区县", "All districts"], no_district: ["（未登记区县）", "(no district)"],
  // elevator states
  online: ["在线", "online"], offline: ["离线", "offline"], stale: ["数据陈旧", "stale data"],
  running_up: ["上行", "running up"], running_down: ["下行", "running down"], running: ["运行中", "running"],
  stopped: ["停止", "stopped"], no_data: ["无数据", "no data"], trapped_state: ["困人", "TRAPPED"],
  door_open: ["开", "open"], door_closed: ["关", "closed"], door_opening: ["开门中", "opening"], door_closing: ["关门中", "closing"],
  mode_normal: ["正常", "normal"], mode_inspection: ["检修", "inspection"], mode_fire: ["消防", "fire"],
  mode_out_of_service: ["停用", "out of service"], mode_unknown: ["未知", "unknown"],
  never: ["从未", "never"], days: ["{n} 天", "{n} days"], minutes: ["{n} 分钟", "{n} min"],
  ago_s: ["{n} 秒前", "{n} s ago"], ago_m: ["{n} 分钟前", "{n} min ago"], ago_h: ["{n} 小时前", "{n} h ago"], ago_d: ["{n} 天前", "{n} days ago"],
  stale_warning: ["{n} 台电梯数据陈旧（超过 {s} 秒无数据）", "{n} elevator(s) with stale data (nothing for more than {s} s)"],
  // list controls
  search: ["搜索", "Search"], search_ph: ["编号、地址、救援码、维保单位", "id, address, rescue code, company"],
  filter: ["筛选", "Filter"], f_all: ["全部", "all"], f_alarm: ["报警中", "with alarms"], f_offline: ["离线", "offline"],
  f_stale: ["数据陈旧", "stale data"], sort: ["排序", "Sort"], s_id: ["按编号", "by id"],
  s_last_seen: ["按最后通讯", "by last seen"], s_alarms: ["报警优先", "alarms first"], s_address: ["按地址", "by address"],
  shown_of: ["显示 {n} / {t}", "showing {n} of {t}"],
  // case status and actions
  st_01: ["已发生·待响应", "occurred"], st_02: ["已响应", "responded"], st_04: ["已到场", "on site"],
  st_00: ["救援完成", "done"], st_05: ["误报", "false alarm"], st_06: ["已合并", "merged"],
  act_respond: ["响应（接警）", "Responded"], act_arrive: ["已到场", "On site"], act_complete: ["救援完成：人员已脱困", "Done: passengers out"],
  act_false_alarm: ["误报", "False alarm"], act_reopen: ["重新打开", "Reopen"],
  by: ["{d}，{a}", "{d} by {a}"],
  confirm_false_alarm: ["确认将工单 {c} 标记为误报并关闭？只有确认无人被困时才能这样做。", "Mark case {c} as a false alarm and close it? Only when you are sure nobody is trapped."],
  confirm_yes: ["确认误报", "Yes, false alarm"], cancel: ["取消", "Cancel"],
  merge_into: ["合并到 {c}", "Merge into {c}"], merge_yes: ["确认合并", "Yes, merge"],
  confirm_merge: ["将工单 {c} 合并到同一部电梯的工单 {into}？{c} 的记录并入 {into}，{c} 随即关闭。", "Merge case {c} into case {into} of the same elevator? {c}'s steps join {into} and {c} is closed."],
  action_failed: ["工单 {c}：{m}", "Case {c}: {m}"],
  // elevator page
  back: ["← 返回", "← Back"], elevator_page: ["电梯 {d}", "Elevator {d}"], using_unit: ["使用单位", "Using unit"],
  registration_code: ["注册代码", "Registration code"], district: ["区县", "District"],
  chart_24h: ["近 24 小时事件（每小时）", "Events in the last 24 h (per hour)"],
  timeline: ["事件时间线（近 24 小时）", "Event timeline (last 24 h)"], no_events: ["近 24 小时没有事件。", "No events in the last 24 h."],
  raise: ["发生", "raised"], clear: ["恢复", "cleared"],
  advisories: ["趋势预警（维保）", "Advisories (trend watch, for maintenance)"],
  advisories_hint: ["部件性能渐变，提醒维保单位安排检查；不是报警，不需救援。", "A figure drifting: the maintenance company should look. Not an alarm, no rescue."],
  no_advisories: ["没有趋势预警。", "No advisories."],
  col_advisory: ["预警", "Advisory"], col_cleared: ["恢复时间", "Cleared"],
  advisory_active: ["未恢复", "active"], advisory_cleared: ["已恢复", "cleared"],
  registry_history: ["档案变更记录", "Registry history"],
  registry_history_hint: ["统计按事件发生时负责的维保单位计算。", "Statistics count each event for the company in charge at that time."],
  col_version: ["版本", "Version"], col_valid_from: ["生效", "Valid from"], col_valid_until: ["截止", "Valid until"],
  col_using_unit: ["使用单位", "Using unit"], no_registry_history: ["未在电梯档案中登记。", "Not in the registry."],
  case_history: ["救援工单记录", "Rescue cases"], open_case_by_hand: ["手动建单（96333 来电）", "Open a case by hand (96333 call)"],
  case_opened: ["已建立工单 {c}", "Case {c} opened"], not_registered: ["未在电梯档案中登记", "not in the elevator registry"],
  severity_alarm: ["报警", "alarm"], severity_fault: ["故障", "fault"], severity_info: ["提示", "info"],
  notify_title: ["困人报警：{d}", "Passengers trapped: {d}"],
  role_duty_officer: ["值班员", "duty officer"], role_regulator: ["监管", "regulator"],
  role_company: ["维保单位", "maintenance company"], role_admin: ["管理员", "admin"], role_null: ["", ""],
  nav_audit: ["操作审计", "Audit trail"], audit: ["操作审计（只增不改）", "Audit trail (append-only)"],
  audit_actor: ["操作人", "Actor"], audit_role: ["角色", "Role"], audit_kind: ["类别", "Kind"],
  audit_action: ["操作", "Action"], audit_target: ["对象", "Target"], audit_detail: ["内容", "Detail"],
  audit_refresh: ["刷新", "Refresh"], audit_empty: ["没有符合条件的记录。", "No matching entries."],
  live_view: ["实时查看（2 分钟）", "Live view (2 min)"], live_on: ["实时查看中，剩余 {d}", "live view on, {d} left"],
  live_failed: ["实时查看未开启：{m}", "live view not started: {m}"],
  col_severity: ["级别", "Severity"], col_ack: ["确认 / 指派", "Acknowledged / assigned"],
  ack: ["确认", "Acknowledge"], assign_ph: ["指派给（可选）", "assign to (optional)"],
  acked: ["{a} {t} 确认", "acknowledged by {a} at {t}"], assigned: ["指派：{w}", "assigned: {w}"],
  read_only: ["只读账号：不能操作工单", "Read-only account: cannot act on cases"],
};

const SEVERITY = {
  safety_circuit_open: "fault", door_open_too_long: "fault", stop_outside_door_zone: "fault", moving_with_door_open: "alarm",
  run_timeout: "fault", position_lost: "fault", controller_fault: "fault", overtravel_top: "alarm", overtravel_bottom: "alarm",
  entrapment: "alarm", door_reopen_repeated: "fault", power_failure: "alarm", inspection: "info", alarm_button: "alarm",
  door_open_outside_zone: "alarm", door_open_while_running: "alarm", overspeed: "alarm", door_lock_lost: "alarm",
  comms_lost: "fault", device_offline: "fault",
  // trend watch: its own severity (protocols/events.py ADVISORY), styled apart, never an alert
  trend_door_opening: "advisory", trend_door_closing: "advisory", trend_door_lock: "advisory",
  trend_door_reopens: "advisory", trend_relevels: "advisory", trend_stopping: "advisory", trend_travel_time: "advisory",
};

const LANGS = ["zh-CN", "en"];

const i18n = {
  lang() {
    const chosen = localStorage.getItem("console.lang");
    return LANGS.includes(chosen) ? chosen : "zh-CN";
  },
  setLang(lang) { localStorage.setItem("console.lang", LANGS.includes(lang) ? lang : "zh-CN"); },
  index() { return this.lang() === "zh-CN" ? 0 : 1; },
  // t("live", {t: "10:02"}): the word in the current language, {name} filled in.
  t(key, values = {}) {
    const entry = WORDS[key];
    let text = entry ? entry[this.index()] : key;
    for (const [k, v] of Object.entries(values)) text = text.split("{" + k + "}").join(String(v));
    return text;
  },
  // The duty room's word for an event type, with its GB/T code where it has one.
  event(type, withCode = false) {
    const entry = EVENTS[type];
    if (!entry) return String(type || "").replace(/_/g, " ");
    const name = entry[this.index()];
    return withCode && entry[2] ? name + "（" + entry[2] + "）" : name;
  },
  severity(type) { return SEVERITY[type] || "fault"; },
  // Static text of the page: elements with data-i18n (text), data-i18n-ph (placeholder), data-i18n-title.
  apply(root = document) {
    document.documentElement.lang = this.lang();
    for (const n of root.querySelectorAll("[data-i18n]")) n.textContent = this.t(n.dataset.i18n);
    for (const n of root.querySelectorAll("[data-i18n-ph]")) n.placeholder = this.t(n.dataset.i18nPh);
    for (const n of root.querySelectorAll("[data-i18n-title]")) n.title = this.t(n.dataset.i18nTitle);
    document.title = this.t("title");
  },
};

window.i18n = i18n;
window.I18N_EVENTS = EVENTS;
