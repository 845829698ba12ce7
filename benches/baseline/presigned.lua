-- wrk script: POSTs each pre-signed request of PRESIGNED (a file of
-- "date<TAB>digest<TAB>signature<TAB>body" lines) once, spread over the
-- threads, then stops. Used for the bovine inbox baseline (benches/run.sh).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  requests = {}
  local i = 0
  for line in io.lines(os.getenv("PRESIGNED")) do
    if i % nthreads == id then
      local date, digest, signature, body = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)")
      local headers = {
        ["Date"] = date,
        ["Digest"] = digest,
        ["Signature"] = signature,
        ["Content-Type"] = "application/activity+json",
      }
      table.insert(requests, wrk.format("POST", wrk.path, headers, body))
    end
    i = i + 1
  end
  sent = 0
  answered = 0
end

function request()
  sent = sent + 1
  return requests[((sent - 1) % #requests) + 1]
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= #requests then
    wrk.thread:stop()
  end
end
