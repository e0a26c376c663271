-- Seat selection for holdSeats, included after seat-lib.lua.

-- The distinct seat ids in args[first..], in order, those the map does not
-- have, and the places ("section|row") of all of them.
local function requested_seats(k, args, first)
  local seats, seen, unknown = {}, {}, {}
  for i = first, #args do
    if not seen[args[i]] then
      seen[args[i]] = true
      seats[#seats + 1] = args[i]
    end
  end
  local places = places_of(k, seats)
  for i, place in ipairs(places) do
    if not place then
      unknown[#unknown + 1] = seats[i]
    end
  end
  return seats, unknown, places
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
    end_hold(k, h, H_EXPIRED, CT_SEAT_EXPIRED)
  end
  return busy
end

-- The seat ids of runs { r = row index, start, len }, given each row's
-- seats, and their places ("section|row").
local function seats_in(section, rows, runs, seats_of_row)
  local seats, places = {}, {}
  for _, run in ipairs(runs) do
    for i = run.start, run.start + run.len - 1 do
      seats[#seats + 1] = seats_of_row[run.r][i]
      places[#places + 1] = section .. '|' .. rows[run.r]
    end
  end
  return seats, places
end

local function front_first(a, b)
  return a.r < b.r or (a.r == b.r and a.start < b.start)
end

-- Runs of adjacent available seats in one row, { start = first seat index, len = seats }, left to right.
local function free_runs(k, seats)
  local taken = chunked('HMGET', k.taken, seats)
  local runs, start = {}, nil
  for i = 1, #seats + 1 do
    local free = i <= #seats and not taken[i]
    if free and not start then
      start = i
    elseif not free and start then
      runs[#runs + 1] = { start = start, len = i - start }
      start = nil
    end
  end
  return runs
end

-- Best available `quantity` seats of a section, or nil when there are not
-- enough. First choice: the front-most row with a run of `quantity` adjacent
-- available seats, its leftmost such run. Otherwise a split into the fewest
-- blocks of adjacent seats: runs largest first (ties: front row, then left),
-- the last one contributing only the seats still needed, from its left end.
-- The seats come back in layout order, with their places. The rows' counters
-- skip rows with fewer available seats than asked for while looking for a
-- whole run, and full rows always, so a mostly sold section costs little; at
-- worst it reads each seat of the section once.
local function best_available(k, section, quantity)
  local rows = section_rows(k, section)
  local fields = {}
  for i, row in ipairs(rows) do
    fields[i] = 'r:' .. section .. '|' .. row
  end
  local free = chunked('HMGET', k.counts, fields)
  local seats_of_row, runs = {}, {}
  local function scan(r)
    seats_of_row[r] = split(redis.call('HGET', k.layout, section .. '|' .. rows[r]), ',')
    for _, run in ipairs(free_runs(k, seats_of_row[r])) do
      run.r = r
      runs[#runs + 1] = run
      if run.len >= quantity then
        return run
      end
    end
  end
  for r = 1, #rows do
    if tonumber(free[r]) >= quantity then
      local run = scan(r)
      if run then
        run.len = quantity
        return seats_in(section, rows, { run }, seats_of_row)
      end
    end
  end
  for r = 1, #rows do
    local n = tonumber(free[r])
    if n > 0 and n < quantity then
      scan(r)
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
  return seats_in(section, rows, chosen, seats_of_row)
end
