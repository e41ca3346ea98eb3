-- wrk request for bench_speak.py: the documented speak call, identical for the mock and the bare app.
-- The URL given to wrk carries the path (/v1/agent/A12345678/speak).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["api-secret"] = "YOUR_API_SECRET"
wrk.body = '{"message": "We have a 20% discount available today.", "room_id": "customer_session_1"}'
