// The console's own words, in English and Simplified Chinese, following the browser.
// (The API's messages come translated by the server: it reads Accept-Language; the
// statuses' labels, the order's and the purchase order's, come with the server's
// vocabulary.)
import { VOCABULARY } from "./vocabulary.js";

const WORDS = {
  en: {
    signIn: "Sign in", signUp: "Sign up", signOut: "Sign out", userName: "User name",
    password: "Password", email: "Email (optional)", noAccount: "No account yet?",
    haveAccount: "Already registered?", myOrders: "My orders", newRequest: "New request",
    inbox: "Inbox", fields: "Order fields", title: "Title", content: "What you need",
    phone: "Phone", images: "Reference images (one URL per line)", eventDate: "Needed by",
    create: "Send request", noOrders: "No orders yet.", startOne: "Start a new request",
    previous: "Previous", next: "Next", page: "Page", of: "of", status: "Status",
    all: "All", search: "Search", apply: "Apply", thread: "Messages", send: "Send",
    writeMessage: "Write a message", edit: "Edit", save: "Save changes", close: "Close",
    accept: "Accept quote", reject: "Reject quote", cancelOrder: "Cancel order",
    reason: "Reason (optional)", quote: "Quote", price: "Price", quoteContent: "What the price covers",
    sendQuote: "Send quote", markTalking: "Mark in communication", details: "Details",
    noMessages: "No messages yet.", needsReview: "You changed the requirements: the quote needs review, and the merchant will send a new one.",
    updated: "Order updated.", customer: "Customer", quotePrice: "Quoted price", version: "Version",
    fieldName: "Key", label: "Label", type: "Type", required: "Required", options: "Options (comma-separated)",
    addField: "Add field", remove: "Remove", saveFields: "Save fields", saved: "Saved.",
    noFields: "No fields defined: requests have only the standard fields.", loading: "Loading…",
    notFound: "Nothing here.", updatedAt: "Updated",
    referenceImages: "Reference images", sketchImages: "Sketches", finishedImages: "Finished images",
    merchantImages: "Your images", oneUrlPerLine: "One http(s) URL or /uploads/ path per line.", saveImages: "Save images",
    attachFile: "Attach an image or PDF", orDrop: "or drop files here", uploading: "Uploading",
    attached: "Attached:", fileTooLarge: "This file is too large.",
    serverNotAnswering: "The server is not answering; try again in a moment.", downloadPdf: "Download PDF",
    // webhooks and mail
    webhooks: "Webhooks", addWebhook: "Add webhook", webhookUrl: "URL (http or https)", description: "Description",
    webhookEvents: "Events (none checked: all)", noWebhooks: "No webhooks yet.", enabled: "Enabled",
    deliveries: "Deliveries", rotateSecret: "Rotate secret", redeliver: "Send again", noDeliveries: "No deliveries yet.",
    event: "Event", attempts: "Attempts", error: "Error", delivery_pending: "pending", delivery_delivered: "delivered",
    delivery_failed: "failed", secretOnce: "The signing secret, shown only now: copy it to your receiver.",
    notifications: "Notifications", emailMe: "Email me about my orders",
    noEmail: "Your account has no email address, so no mail is sent.",
    // password recovery and personal data
    forgotPassword: "Forgot password?", forgotIntro: "Enter your user name, email or phone: if the account has an email, a link to set a new password is mailed to it.",
    loginName: "User name, email or phone", sendLink: "Send me a link", resetPassword: "Set a new password",
    newPassword: "New password", setPassword: "Set password", requestNewLink: "Ask for a new link",
    noResetToken: "This page needs the link from the mail: it holds no reset token.",
    myData: "My data", downloadData: "Download my data", deleteAccount: "Delete my account",
    deleteWarning: "Deleting your account erases your name, email and phone and signs you out everywhere; open orders are cancelled. This cannot be undone.",
    confirmDelete: "Delete your account for good?",
    // confirmations of final actions
    confirmAccept: "Accept this quote? The order becomes final.", confirmReject: "Reject this quote?",
    confirmCancel: "Cancel this order for good?", confirmDisable: "Disable this user? Their sessions end at once.",
    // the merchant's desk
    users: "Users", role: "Role", role_user: "customer", role_staff: "staff", role_admin: "admin",
    accountDisabled: "disabled", ordersTotal: "Orders", lastLogin: "Last login", never: "never",
    disable: "Disable", enable: "Enable", makeResetLink: "Reset link", resetLinkFor: "Reset link for",
    noUsers: "No users found.", assignee: "Assigned to", nobody: "nobody", assign: "Assign",
    assignToMe: "Assign to me", mine: "Mine", unassigned: "Unassigned", awaitingReply: "Awaiting reply",
    unreadOnly: "Unread", show: "Show", sortBy: "Sort", sortCreated: "Newest orders", sortActivity: "Latest activity",
    replies: "Saved replies", addReply: "Add reply", noReplies: "No saved replies yet.",
    insertReply: "Insert a saved reply", replyTitle: "Title", replyContent: "Text", notes: "Internal notes",
    addNote: "Add note", note: "note", noteHint: "Only staff and admins see notes.", noNotes: "No notes yet.", unreadCount: "unread",
    // purchase orders
    purchaseOrder: "Purchase order", purchaseOrders: "Purchase orders", orderNumber: "Order number",
    amount: "Amount", payWay: "Paid by", paymentReference: "Payment reference", carrier: "Carrier",
    trackingNumber: "Tracking number", refundReason: "Refund reason", createdAt: "Created",
    payOffline: "Pay offline", howToPay: "How to pay", cancelPurchase: "Cancel", confirmReceipt: "Confirm receipt",
    askRefund: "Ask for a refund", markPaid: "Mark paid", markShipped: "Mark shipped",
    approveRefund: "Approve refund", refuseRefund: "Refuse refund", optional: "(optional)",
    noPurchaseOrders: "No purchase orders yet.",
    confirmPurchaseCancel: "Cancel this purchase order for good?", confirmReceived: "Did you receive it? The purchase order becomes complete.",
    confirmRefund: "Refund this purchase order? This cannot be undone.", confirmClose: "Close this purchase order for good?",
  },
  zh: {
    signIn: "登录", signUp: "注册", signOut: "退出", userName: "用户名", password: "密码",
    email: "邮箱（可选）", noAccount: "还没有账号？", haveAccount: "已有账号？", myOrders: "我的订单",
    newRequest: "新建需求", inbox: "收件箱", fields: "订单字段", title: "标题", content: "需求描述",
    phone: "电话", images: "参考图片（每行一个网址）", eventDate: "期望日期", create: "提交需求",
    noOrders: "还没有订单。", startOne: "新建一个需求", previous: "上一页", next: "下一页",
    page: "第", of: "页，共", status: "状态", all: "全部", search: "搜索", apply: "筛选",
    thread: "消息", send: "发送", writeMessage: "输入消息", edit: "编辑", save: "保存修改", close: "关闭",
    accept: "接受报价", reject: "拒绝报价", cancelOrder: "取消订单", reason: "原因（可选）",
    quote: "报价", price: "价格", quoteContent: "报价说明", sendQuote: "发送报价",
    markTalking: "标记为沟通中", details: "详情", noMessages: "还没有消息。",
    needsReview: "您修改了需求：原报价需要重新审核，商家会发送新的报价。", updated: "订单已更新。",
    customer: "客户", quotePrice: "报价", version: "版本", fieldName: "键", label: "名称", type: "类型",
    required: "必填", options: "选项（逗号分隔）", addField: "添加字段", remove: "删除",
    saveFields: "保存字段", saved: "已保存。", noFields: "还没有定义字段：需求只包含标准字段。",
    loading: "加载中…", notFound: "这里什么也没有。", updatedAt: "更新于",
    referenceImages: "参考图片", sketchImages: "草图", finishedImages: "成品图",
    merchantImages: "商家图片", oneUrlPerLine: "每行一个 http(s) 网址或 /uploads/ 路径。", saveImages: "保存图片",
    attachFile: "添加图片或 PDF", orDrop: "或将文件拖到这里", uploading: "正在上传",
    attached: "已添加：", fileTooLarge: "文件太大。",
    serverNotAnswering: "服务器没有响应，请稍后再试。", downloadPdf: "下载 PDF",
    webhooks: "Webhook", addWebhook: "添加 Webhook", webhookUrl: "网址（http 或 https）", description: "说明",
    webhookEvents: "事件（都不选：全部）", noWebhooks: "还没有 Webhook。", enabled: "启用",
    deliveries: "投递记录", rotateSecret: "更换密钥", redeliver: "重新发送", noDeliveries: "还没有投递记录。",
    event: "事件", attempts: "尝试次数", error: "错误", delivery_pending: "等待中", delivery_delivered: "已送达",
    delivery_failed: "失败", secretOnce: "签名密钥只显示这一次：请复制到接收端。",
    notifications: "通知", emailMe: "订单有动态时给我发邮件", noEmail: "您的账号没有邮箱，因此不会收到邮件。",
    forgotPassword: "忘记密码？", forgotIntro: "输入用户名、邮箱或电话：如果该账户设置了邮箱，我们会把设置新密码的链接发到该邮箱。",
    loginName: "用户名、邮箱或电话", sendLink: "发送链接", resetPassword: "设置新密码",
    newPassword: "新密码", setPassword: "设置密码", requestNewLink: "重新获取链接",
    noResetToken: "此页面需要邮件中的链接：当前地址不含重置令牌。",
    myData: "我的数据", downloadData: "下载我的数据", deleteAccount: "删除我的账户",
    deleteWarning: "删除账户会抹去您的用户名、邮箱和电话，并在所有设备上退出登录；未完成的订单将被取消。此操作无法撤销。",
    confirmDelete: "确定永久删除您的账户吗？",
    confirmAccept: "接受此报价吗？订单将就此确定。", confirmReject: "拒绝此报价吗？",
    confirmCancel: "确定取消此订单吗？此操作无法撤销。", confirmDisable: "停用此用户吗？其所有登录会立即失效。",
    users: "用户", role: "角色", role_user: "客户", role_staff: "客服", role_admin: "管理员",
    accountDisabled: "已停用", ordersTotal: "订单数", lastLogin: "最近登录", never: "从未",
    disable: "停用", enable: "启用", makeResetLink: "重置链接", resetLinkFor: "重置链接：",
    noUsers: "没有找到用户。", assignee: "负责人", nobody: "无人", assign: "分配",
    assignToMe: "分配给我", mine: "我的", unassigned: "未分配", awaitingReply: "等待回复",
    unreadOnly: "未读", show: "显示", sortBy: "排序", sortCreated: "最新订单", sortActivity: "最近动态",
    replies: "快捷回复", addReply: "添加回复", noReplies: "还没有快捷回复。",
    insertReply: "插入快捷回复", replyTitle: "标题", replyContent: "内容", notes: "内部备注",
    addNote: "添加备注", note: "备注", noteHint: "只有客服和管理员能看到备注。", noNotes: "还没有备注。", unreadCount: "未读",
    purchaseOrder: "购买订单", purchaseOrders: "购买订单", orderNumber: "订单号",
    amount: "金额", payWay: "付款方式", paymentReference: "付款流水号", carrier: "快递公司",
    trackingNumber: "快递单号", refundReason: "退款原因", createdAt: "创建于",
    payOffline: "线下付款", howToPay: "付款说明", cancelPurchase: "取消", confirmReceipt: "确认收货",
    askRefund: "申请退款", markPaid: "标记为已付款", markShipped: "标记为已发货",
    approveRefund: "同意退款", refuseRefund: "拒绝退款", optional: "（可选）",
    noPurchaseOrders: "还没有购买订单。",
    confirmPurchaseCancel: "确定取消此购买订单吗？此操作无法撤销。", confirmReceived: "确认已收到货物吗？购买订单将就此完成。",
    confirmRefund: "确定退款吗？此操作无法撤销。", confirmClose: "确定关闭此购买订单吗？此操作无法撤销。",
  },
};

export const language = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
document.documentElement.lang = language === "zh" ? "zh-CN" : "en";

export function t(key) {
  return WORDS[language][key] ?? WORDS.en[key] ?? key;
}

// A status's label in the page's language: `statusNamer(statuses)` makes the lookup for
// one of the vocabulary's lists of statuses.
function statusNamer(statuses) {
  const labels = new Map(statuses.map((s) => [String(s.value), s.label]));
  return (status) => labels.get(String(status))?.[language] ?? String(status);
}

export const statusName = statusNamer(VOCABULARY.statuses);
export const purchaseStatusName = statusNamer(VOCABULARY.purchaseStatuses);
