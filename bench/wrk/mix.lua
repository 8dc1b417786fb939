-- 70% reads (60% the unread count, 10% the messages page), 25% posts, 5% flushes.
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
request = function()
  local roll = math.random(100)
  if roll <= 60 then
    return wrk.format("GET", "/unread-list/size")
  elseif roll <= 70 then
    return wrk.format("GET", "/messages")
  elseif roll <= 95 then
    return wrk.format("POST", "/message", form, "message=hello+from+wrk")
  else
    return wrk.format("POST", "/messages/flush")
  end
end
