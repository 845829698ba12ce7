-- wrk script: directory searches that always miss the directory cache
-- (a fresh random word each time), to measure the database path.
math.randomseed(os.time())
request = function()
  local word = ""
  for _ = 1, 6 do word = word .. string.char(math.random(97, 122)) end
  return wrk.format("GET", "/advisors?q=" .. word)
end
