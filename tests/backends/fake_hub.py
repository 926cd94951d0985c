"""A Hugging Face Hub on loopback, for the online path: the few endpoints huggingface_hub's `model_info`,
`list_repo_tree` and file downloads call (`/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/tree/
{commit}`, `/{repo}/resolve/{commit}/{path}`), serving model folders from disk, and a log of which files
were downloaded (a GET of a file's content) — what the tests check the download choice against."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, tuple[str, Path]] = {}  # repo id → (commit, folder)
        self.downloaded: list[str] = []  # "repo/path" per content GET
        self.requests = 0  # every request, look-ups included
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, head=True)

            def do_GET(self) -> None:
                hub.answer(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, repo_id: str, folder: Path, commit: str) -> None:
        self.repos[repo_id] = (commit, Path(folder))

    def files(self, repo_id: str) -> list[str]:
        folder = self.repos[repo_id][1]
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

    def start(self) -> FakeHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        self.requests += 1
        path = unquote(urlparse(req.path).path)
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo, kind = "/".join(parts[2:4]), (parts[4] if len(parts) > 4 else "revision")
            if repo not in self.repos:
                return self.send(
                    req, 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}
                )
            commit, _ = self.repos[repo]
            if kind == "revision":
                body = {"id": repo, "sha": commit, "siblings": [{"rfilename": f} for f in self.files(repo)]}
            else:  # tree
                body = [self.entry(repo, f) for f in self.files(repo)]
            return self.send(req, 200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, file = "/".join(parts[:2]), "/".join(parts[4:])
            if repo not in self.repos or file not in self.files(repo):
                return self.send(req, 404, b"", {"X-Error-Code": "EntryNotFound"})
            commit, folder = self.repos[repo]
            data = (folder / file).read_bytes()
            if not head:
                self.downloaded.append(f"{repo}/{file}")
            headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
            return self.send(req, 200, data, headers, head)
        return self.send(req, 404, b"")

    def entry(self, repo: str, file: str) -> dict:
        data = (self.repos[repo][1] / file).read_bytes()
        return {"type": "file", "path": file, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}

    @staticmethod
    def send(req, status: int, body: bytes, headers: dict | None = None, head: bool = False) -> None:
        req.send_response(status)
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if not head:
            req.wfile.write(body)
