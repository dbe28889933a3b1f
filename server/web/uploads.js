// Attachments: the upload control (file picker, drag and drop, progress,
// errors beside it) and how uploaded files show (thumbnails; a PDF is a download).
import { ApiError, notAnswered } from "./api.js";
import { t } from "./i18n.js";
import { VOCABULARY } from "./vocabulary.js";

// An upload of this server, as the server names them: a random name and its type.
const EXTENSIONS = VOCABULARY.uploadKinds.map((kind) => kind.extension);
const UPLOAD = new RegExp(`^/uploads/([A-Za-z0-9_-]+\\.(${EXTENSIONS.join("|")}))$`);
const ACCEPT = [
  ...new Set(VOCABULARY.uploadKinds.map((kind) => kind.contentType)),
  ...EXTENSIONS.map((extension) => `.${extension}`),
  ".jpeg",
].join(",");

// The thumbnail of an uploaded image; null for a PDF or anything not uploaded here.
export function uploadThumb(url) {
  const match = UPLOAD.exec(url);
  return match && match[2] !== "pdf" ? `/uploads/thumb/${match[1]}` : null;
}

export const isUploadedPdf = (url) => UPLOAD.exec(url)?.[2] === "pdf";

// POST /api/attachment/upload. XMLHttpRequest, not fetch: it reports upload progress.
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/attachment/upload");
    request.withCredentials = true;
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      const answer = request.response;
      if (answer && answer.code === 0) resolve(answer.data);
      else reject(answer ? new ApiError(answer) : notAnswered(request.status));
    });
    request.addEventListener("error", () => reject(notAnswered(0)));
    const body = new FormData();
    body.append("file", file);
    request.send(body);
  });
}

function node(tag, attrs = {}, text = "") {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text) el.textContent = text;
  return el;
}

// A drop zone with a file picker. Each file chosen or dropped is uploaded in turn with
// a progress bar; `onUploaded(attachment)` receives each stored one (and may throw: its
// error shows here too). A refused file's reason shows inside the control.
export function attachControl(id, onUploaded) {
  const zone = node("div", { class: "attach", "data-testid": `attach-${id}` });
  const picker = node("input", { type: "file", id: `attach-${id}`, accept: ACCEPT, multiple: "", class: "attach-input" });
  const button = node("label", { for: picker.id, class: "attach-button" }, t("attachFile"));
  const hint = node("span", { class: "muted" }, t("orDrop"));
  const progress = node("progress", { max: "1", value: "0", hidden: "" });
  const result = node("div", { class: "attach-result", role: "status" });
  zone.append(button, picker, hint, progress, result);

  const send = async (files) => {
    for (const file of files) {
      zone.querySelectorAll(".error").forEach((el) => el.remove());
      result.replaceChildren(`${t("uploading")} ${file.name}`);
      progress.value = 0;
      progress.hidden = false;
      try {
        const attachment = await uploadFile(file, (done) => (progress.value = done));
        await onUploaded(attachment);
        const shown = attachment.thumb
          ? node("img", { src: attachment.thumb, alt: attachment.file_name, class: "attach-thumb", "data-testid": "attached-thumb" })
          : node("span", { class: "attach-file" }, "PDF");
        result.replaceChildren(shown, `${t("attached")} ${attachment.file_name}`);
      } catch (error) {
        result.replaceChildren();
        zone.append(node("p", { class: "error", role: "alert" }, `${file.name}: ${error.message}`));
      } finally {
        progress.hidden = true;
      }
    }
  };
  picker.addEventListener("change", () => {
    const files = [...picker.files];
    picker.value = "";
    send(files);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    send([...event.dataTransfer.files]);
  });
  return zone;
}

// Adds a URL as the last line of a one-URL-per-line textarea.
export function appendLine(control, url) {
  control.value = control.value.trim() ? `${control.value.trimEnd()}\n${url}` : url;
}
