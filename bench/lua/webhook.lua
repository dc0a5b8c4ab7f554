-- Stripe delivering signed `checkout.session.completed` events, one per order the checkout
-- scenario left awaiting payment. The harness writes them to events-<thread>.tsv (signature TAB
-- body per line), a share for each wrk thread. A thread that has sent all of its share sends it
-- again, as Stripe redelivers: the shop answers "duplicate" and changes nothing. `created` counts
-- the answers "fulfilled", which the harness compares with the orders paid in the database.
local events, next_event = {}, 1
created = 0

function init(args)
  for line in io.lines(string.format("%s/events-%d.tsv", args[2], id)) do
    local signature, body = line:match("^([^\t]+)\t(.+)$")
    table.insert(events, { signature = signature, body = body })
  end
end

function request()
  local event = events[next_event]
  next_event = next_event % #events + 1
  return wrk.format("POST", "/webhooks/stripe",
    { ["Content-Type"] = "application/json", ["Stripe-Signature"] = event.signature }, event.body)
end

function response(status, headers, body)
  if status == 200 and body:find('"result":"fulfilled"', 1, true) then
    created = created + 1
  end
end
