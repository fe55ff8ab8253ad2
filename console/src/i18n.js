// English and Chinese UI text. The language is chosen on the sign-in page and kept in
// localStorage (no identity data there).
const TEXT = {
  en: {
    title: 'idv console', signIn: 'Sign in', signOut: 'Sign out', apiKey: 'API key',
    apiKeyHelp: 'The key of an audit or admin client. It is kept by idvd in a sealed, HttpOnly session cookie, never by this page.',
    skip: 'Skip to content', dashboard: 'Dashboard', records: 'Records', integrity: 'Integrity',
    backends: 'Backends and policies', language: '中文', signedInAs: 'Signed in as',
    tenant: 'tenant', roles: 'roles', expires: 'session ends', loading: 'Loading…',
    outcomesPerHour: 'Verifications per hour, by outcome', outcomesPerDay: 'Verifications per day, by outcome',
    window: 'Window', last24h: 'last 24 hours', last7d: 'last 7 days', last30d: 'last 30 days', total: 'Total',
    backendLatency: 'Backend latency', backend: 'Backend', calls: 'Calls', p50: 'p50', p99: 'p99',
    cacheHitRate: 'Cache hit rate', breakers: 'Circuit breakers', rechecks: 'Re-check queue',
    records24h: 'Records in the window', refreshed: 'Refreshed', noMetrics: 'Metrics need the admin or audit role on this node',
    account: 'Account', outcome: 'Outcome', reason: 'Reason', any: 'any', from: 'From', to: 'To',
    search: 'Search', next: 'Next page', first: 'First page', time: 'Time', node: 'Node', index: 'Index',
    kind: 'Kind', open: 'Open', close: 'Close', detail: 'Record', checks: 'Checks',
    proveInclusion: 'Check inclusion proof', proofOk: 'Included in the signed checkpoint: proof and signature checked in this page',
    proofBad: 'Proof check FAILED', exportJsonl: 'Export JSON Lines', exportCsv: 'Export CSV',
    withVerifiedClaims: 'JSON Lines with verified_claims (adult)',
    exported: 'records exported', checkpoints: 'Signed checkpoints', size: 'Size', verifierKey: 'Verifier key',
    verifyIntegrity: 'Verify integrity', intact: 'Intact', notIntact: 'NOT intact', firstBad: 'First bad record',
    recordsChecked: 'records checked', checkpointsChecked: 'signed checkpoints matched',
    keyChanged: 'NOT the verifier key this browser pinned on', repin: 'Pin this key instead',
    keyPinnedNow: 'key pinned in this browser now', keyPinnedSince: 'same key as pinned in this browser on',
    moreFilters: 'More filters', documentType: 'Document type', verification_id: 'Verification id',
    client_id: 'Client id', node_id: 'Node',
    firstRecord: 'From index', lastRecord: 'To index', wholeLog: 'whole log', toTheEnd: 'to the end', history: 'Configuration history', version: 'Version', actor: 'By',
    summary: 'Change', edit: 'Edit', dryRun: 'Dry run', apply: 'Apply', changes: 'Changes',
    backendJson: 'Backend (BackendConfig as JSON)', policyJson: 'Policy (as JSON)', breaker: 'Breaker',
    inFlight: 'In flight', adminOnly: 'Only administrators change backends and policies.',
    newBackend: 'New backend', policies: 'Policies', error: 'Error', none: 'None', identity: 'Identity (masked)', binding: 'Binding', client: 'Client',
    fromCache: 'Answered from the result cache: no backend was asked.', noChecks: 'No backend was asked (decided offline).',
    rawCode: 'Raw code', latency: 'Latency', confirmedElements: 'Confirmed elements', decidedBy: 'Decided by',
    noRecords: 'No records match.', expired: 'Your session ended. Sign in again.',
  },
  zh: {
    title: 'idv 控制台', signIn: '登录', signOut: '退出登录', apiKey: 'API 密钥',
    apiKeyHelp: '审计或管理客户端的密钥。由 idvd 保存在加密的 HttpOnly 会话 Cookie 中，本页面不保存。',
    skip: '跳到正文', dashboard: '概览', records: '记录', integrity: '完整性',
    backends: '后端与策略', language: 'English', signedInAs: '当前用户',
    tenant: '租户', roles: '角色', expires: '会话结束', loading: '加载中…',
    outcomesPerHour: '每小时核验次数（按结果）', outcomesPerDay: '每日核验次数（按结果）',
    window: '时间范围', last24h: '最近 24 小时', last7d: '最近 7 天', last30d: '最近 30 天', total: '合计',
    backendLatency: '后端延迟', backend: '后端', calls: '调用', p50: 'p50', p99: 'p99',
    cacheHitRate: '缓存命中率', breakers: '熔断器', rechecks: '复核队列',
    records24h: '窗口内记录', refreshed: '更新于', noMetrics: '本节点的指标需要管理或审计角色',
    account: '账号', outcome: '结果', reason: '原因', any: '全部', from: '起', to: '止',
    search: '查询', next: '下一页', first: '第一页', time: '时间', node: '节点', index: '序号',
    kind: '类型', open: '打开', close: '关闭', detail: '记录', checks: '核验',
    proveInclusion: '校验包含证明', proofOk: '已包含在签名检查点中：证明与签名均在本页校验',
    proofBad: '证明校验失败', exportJsonl: '导出 JSON Lines', exportCsv: '导出 CSV',
    withVerifiedClaims: 'JSON Lines 附 verified_claims（adult）',
    exported: '条记录已导出', checkpoints: '签名检查点', size: '大小', verifierKey: '验证公钥',
    verifyIntegrity: '校验完整性', intact: '完整', notIntact: '不完整', firstBad: '首个异常记录',
    recordsChecked: '条记录已校验', checkpointsChecked: '个签名检查点一致',
    keyChanged: '与本浏览器固定的验证公钥不同，固定于', repin: '改为固定此公钥',
    keyPinnedNow: '已在本浏览器固定此公钥', keyPinnedSince: '与本浏览器固定的公钥一致，固定于',
    moreFilters: '更多条件', documentType: '证件类型', verification_id: '核验编号',
    client_id: '客户端编号', node_id: '节点',
    firstRecord: '起始序号', lastRecord: '结束序号', wholeLog: '整个日志', toTheEnd: '到末尾', history: '配置历史', version: '版本', actor: '操作者',
    summary: '变更', edit: '编辑', dryRun: '试运行', apply: '应用', changes: '变更内容',
    backendJson: '后端（BackendConfig JSON）', policyJson: '策略（JSON）', breaker: '熔断',
    inFlight: '进行中', adminOnly: '只有管理员可以修改后端与策略。',
    newBackend: '新增后端', policies: '策略', error: '错误', none: '无', identity: '身份（已脱敏）', binding: '绑定', client: '客户端',
    fromCache: '结果来自缓存，未调用后端。', noChecks: '未调用后端（离线判定）。',
    rawCode: '原始代码', latency: '延迟', confirmedElements: '已核实要素', decidedBy: '判定后端',
    noRecords: '没有匹配的记录。', expired: '会话已结束，请重新登录。',
  },
};

let lang = (typeof localStorage !== 'undefined' && localStorage.getItem('idv.lang')) || 'en';

export function t(key) {
  return (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
}

export function language() {
  return lang;
}

export function setLanguage(l) {
  lang = l;
  localStorage.setItem('idv.lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}
