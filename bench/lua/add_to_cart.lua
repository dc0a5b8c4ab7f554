-- A new visitor every time: no cookie is sent, so each request opens a session and a cart.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"sku":"sw-print-1y"}'
