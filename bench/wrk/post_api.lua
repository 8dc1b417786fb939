-- POST /api/messages with a JSON body.
wrk.method = "POST"
wrk.body = '{"message": "hello from wrk"}'
wrk.headers["Content-Type"] = "application/json"
