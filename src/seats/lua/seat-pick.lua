-- Seat selection for holdSeats, included after seat-lib.lua.

-- The distinct seat ids in args[first..], in order, and those the map does not have.
local function requested_seats(k, args, first)
  local seats, seen, unknown = {}, {}, {}
  for i = first, #args do
    if not seen[args[i]] then
      seen[args[i]] = true
      seats[#seats + 1] = args[i]
    end
  end
  for i, place in ipairs(places_of(k, seats)) do
    if not place then
      unknown[#unknown + 1] = seats[i]
    end
  end
  return seats, unknown
end

-- Of the requested seats, those held or sold. A blocking hold that is past its
-- expiry (no sweep reached it yet) is expired first, so its seats count as free.
local function unavailable_seats(k, seat_ids, now)
  local taken = chunked('HMGET', k.taken, seat_ids)
  local blockers, stale, busy = {}, {}, {}
  for i = 1, #seat_ids do
    local value = taken[i]
    if value then
      local owner = string.sub(value, 2)
      if blockers[owner] == nil then
        local h = string.sub(value, 1, 1) == 'H' and read_hold(k.holds, owner)
        blockers[owner] = h and h.state == H_HELD and h.expires <= now and h or false
        if blockers[owner] then
          stale[#stale + 1] = blockers[owner]
        end
      end
      if not blockers[owner] then
        busy[#busy + 1] = seat_ids[i]
      end
    end
  end
  for _, h in ipairs(stale) do
    end_hold(k, h, H_EXPIRED, 'seat.expired')
  end
  return busy
end

-- The seats of runs { r = row index, start = first seat index, len = seats }.
local function seats_of(rows, runs)
  local seats = {}
  for _, run in ipairs(runs) do
    for i = run.start, run.start + run.len - 1 do
      seats[#seats + 1] = rows[run.r].seats[i]
    end
  end
  return seats
end

local function front_first(a, b)
  return a.r < b.r or (a.r == b.r and a.start < b.start)
end

-- Best available `quantity` seats of a section's rows, or nil when there are
-- not enough. First choice: the front-most row with a run of `quantity`
-- adjacent available seats, its leftmost such run. Otherwise a split into the
-- fewest blocks of adjacent seats: runs largest first (ties: front row, then
-- left), the last one contributing only the seats still needed, from its left
-- end. The seats come back in layout order. Reads only this section's seats.
local function best_available(k, rows, quantity)
  local runs = {}
  for r, row in ipairs(rows) do
    local taken = chunked('HMGET', k.taken, row.seats)
    local start
    for i = 1, #row.seats + 1 do
      local free = i <= #row.seats and not taken[i]
      if free and not start then
        start = i
      elseif not free and start then
        if i - start >= quantity then
          return seats_of(rows, { { r = r, start = start, len = quantity } })
        end
        runs[#runs + 1] = { r = r, start = start, len = i - start }
        start = nil
      end
    end
  end
  table.sort(runs, function(a, b)
    if a.len ~= b.len then
      return a.len > b.len
    end
    return front_first(a, b)
  end)
  local chosen, need = {}, quantity
  for _, run in ipairs(runs) do
    if need == 0 then
      break
    end
    run.len = math.min(run.len, need)
    need = need - run.len
    chosen[#chosen + 1] = run
  end
  if need > 0 then
    return nil
  end
  table.sort(chosen, front_first)
  return seats_of(rows, chosen)
end
