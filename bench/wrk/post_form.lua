-- POST /message as the index page's form sends it.
wrk.method = "POST"
wrk.body = "message=hello+from+wrk"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
