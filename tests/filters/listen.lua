-- tshark's answer for many display filters in one run (tests/test_filter_corpus.py):
-- one tap listener per filter (a listener's filter is a display filter, evaluated as
-- -Y evaluates it); at the end, a line per filter with the frame numbers it selected,
-- or "error <message>" when tshark refuses the filter.
local filters = {}
for line in io.lines(os.getenv("NETLAB_FILTERS")) do filters[#filters + 1] = line end
local hits, errors = {}, {}
for i, text in ipairs(filters) do
  hits[i] = {}
  local ok, listener = pcall(Listener.new, "frame", text)
  if ok then
    listener.packet = function(pinfo) table.insert(hits[i], pinfo.number) end
  else
    errors[i] = tostring(listener):gsub("\n", " ")
  end
end
local last = Listener.new("frame")
last.draw = function()
  local out = assert(io.open(os.getenv("NETLAB_OUT"), "w"))
  for i = 1, #filters do
    if errors[i] then
      out:write("error ", errors[i], "\n")
    else
      out:write(table.concat(hits[i], " "), "\n")
    end
  end
  out:close()
end
