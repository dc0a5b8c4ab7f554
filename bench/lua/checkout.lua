-- One reader per connection (run with as many threads as connections): add the journal to a new
-- cart, type the half-price code, check out with a new email; then again with a new visitor.
-- `created` counts the orders placed (201), which the harness compares with the database.
-- Each reader comes from an address of their own (X-Forwarded-For, the shop trusting the
-- loopback proxy): a hundred readers behind one address would share its coupon-guess limit.
local step, cookie, n = 0, nil, 0
local run = "0"
created = 0

function init(args)
  run = args[1] or "0"
end

local json = { ["Content-Type"] = "application/json" }

function request()
  if step == 0 then
    return wrk.format("POST", "/api/v1/cart/items", json, '{"sku":"isr-print-1y"}')
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Cookie"] = cookie,
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", id, math.floor(n / 250) % 250, n % 250 + 1),
  }
  if step == 1 then
    return wrk.format("POST", "/api/v1/cart/coupon", headers, '{"code":"FTR 2016"}')
  end
  n = n + 1
  local body = string.format(
    '{"email":"bench-%s-%d-%d@example.org","name":"Bench Reader","shipping_address":'
      .. '{"line1":"1 Main St","city":"Chicago","region":"IL","postal_code":"60601","country":"US"}}',
    run, id, n)
  return wrk.format("POST", "/api/v1/checkout", headers, body)
end

function response(status, headers, body)
  if step == 0 then
    local set = headers["set-cookie"] or headers["Set-Cookie"]
    if status == 200 and set then
      cookie = set:match("^([^;]+)")
      step = 1
    end
  elseif step == 1 then
    step = (status == 200) and 2 or 0
  else
    if status == 201 then
      created = created + 1
    end
    step = 0
  end
end
