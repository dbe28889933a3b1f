// The public API, nothing else: every call is a fetch with the session cookie.

export class ApiError extends Error {
  constructor(answer) {
    super(answer.msg);
    this.code = answer.code;
    this.data = answer.data;
  }
}

export async function api(method, path, body, query) {
  let url = `/api${path}`;
  if (query) {
    const pairs = Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined);
    if (pairs.length) url += `?${new URLSearchParams(pairs)}`;
  }
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const answer = await (await fetch(url, options)).json();
  if (answer.code !== 0) throw new ApiError(answer);
  return answer;
}
