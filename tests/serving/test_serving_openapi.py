"""Issue 15, item 12: /openapi.json is true — every request body, response and error is documented, the
bearer scheme is declared — and schemathesis, fuzzing the server from that spec, finds no 5xx and no
response that breaks it (a bounded run here; benchmarks/bench_serving_fuzz.py runs it at depth)."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is in the test extra (pip install -e .[test])")

POSTS = {
    "/v1/videos": "VideoCreateRequest",
    "/v1/videos/extensions": "VideoExtendRequest",
    "/v1/videos/{video_id}/remix": "VideoRemixRequest",
}


def test_12_openapi_documents_every_body_response_and_error(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"Video", "VideoList", "VideoDeleted", "Error", "ModelList"} <= set(schemas)
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `kinema keys create`, as `Authorization: Bearer kin-...`.",
    }
    for path, model in POSTS.items():
        body = spec["paths"][path]["post"]["requestBody"]["content"]
        assert body["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert schemas[model]["additionalProperties"] is False and "prompt" in schemas[model]["required"]
        form = body["multipart/form-data"]["schema"]["properties"]
        assert set(form) == set(schemas[model]["properties"])
    assert spec["paths"]["/v1/videos"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"][
        "properties"
    ]["input_reference"]["format"] == ("binary")
    assert "physics" in schemas["VideoCreateRequest"]["properties"]
    error = {"$ref": "#/components/schemas/Error"}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            responses = op["responses"]
            assert "422" not in responses, (method, path)  # never returned: bad input is a 400
            for code, response in responses.items():
                content = response.get("content", {})
                for media, body in content.items():
                    assert body.get("schema") not in (None, {}), (method, path, code, media)
                if code != "200":
                    assert content["application/json"]["schema"] == error, (method, path, code)
            if path.startswith("/v1/") and path != "/v1/config":  # the studio's config needs no key
                assert op["security"] == [{"bearer": []}], (method, path)
                assert {"401", "403"} <= set(responses) or method == "get" and "401" in responses
    create = spec["paths"]["/v1/videos"]["post"]["responses"]
    assert {"200", "400", "401", "403", "413", "415", "429"} <= set(create)
    assert "Retry-After" in create["429"]["headers"]
    assert create["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Video"}
    assert "RetrieveVideo" in create["200"]["links"]
    extend = spec["paths"]["/v1/videos/extensions"]["post"]["responses"]
    assert {"404", "409"} <= set(extend)
    content = spec["paths"]["/v1/videos/{video_id}/content"]["get"]["responses"]
    assert set(content["200"]["content"]) == {"video/mp4", "image/jpeg"} and "409" in content
    video = schemas["Video"]["properties"]
    assert video["status"]["enum"] == ["queued", "in_progress", "completed", "failed"]


def test_12_405_lists_every_allowed_method(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        r = c.put("/v1/videos")
        assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
        assert (
            r.json()["error"]["code"] == "method_not_allowed"
            and "it answers GET, POST" in r.json()["error"]["message"]
        )
        r = c.post("/v1/videos/video_x")
        assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET"


def test_12_schemathesis_finds_no_5xx_and_every_response_conforms(server_factory):
    from serving_fuzz import fuzz_operations, fuzz_stateful

    server = server_factory(
        start_webhooks=False, events_max_seconds=0.5
    )  # no worker: streams would stay open
    report = fuzz_operations(server.url, max_examples=12)
    fuzz_stateful(server.url, max_examples=5, report=report)
    assert report.total >= 250 and report.stateful_steps > 0, report.cases
    assert report.server_errors == 0, report.statuses
    assert report.failures == [], report.failures[:3]
    assert {200, 400, 404} <= set(report.statuses)  # it reached both the accepted and the refused paths
