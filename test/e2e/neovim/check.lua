-- Run by test/e2e/neovim.test.mjs: `nvim --headless --clean -c 'luafile check.lua' <header>`.
-- Starts the vfio-review server with Neovim's own LSP client (vim.lsp.start_client, which
-- Neovim 0.7 has; 0.8+ also have vim.lsp.start), waits for diagnostics, asks for a hover at the
-- position in VR_HOVER ("line,col", 1-based line, 0-based column) and writes what it saw as
-- JSON to VR_OUT, then quits.
local out = assert(os.getenv('VR_OUT'))
local function finish(result)
  local f = assert(io.open(out, 'w'))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  local client_id = vim.lsp.start_client({
    name = 'vfio_review',
    cmd = { os.getenv('VR_NODE'), os.getenv('VR_SERVER'), '--stdio' },
    root_dir = os.getenv('VR_ROOT'),
    -- Neovim 0.7 neither advertises workspace/configuration nor sends `settings` by itself
    -- (later versions answer workspace/configuration from them): initializationOptions carry
    -- the same settings, which the server reads as well.
    settings = { vfioReview = { arches = { 'x86_64', 'i386' }, debounceMs = 50 } },
    init_options = { vfioReview = { arches = { 'x86_64', 'i386' }, debounceMs = 50 } },
  })
  assert(client_id, 'the server did not start')
  vim.lsp.buf_attach_client(0, client_id)

  local seen = vim.wait(30000, function() return #vim.diagnostic.get(0) > 0 end, 50)
  local diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(diagnostics, { line = d.lnum, message = d.message, code = d.code or lsp.code, source = d.source })
  end

  local line, col = os.getenv('VR_HOVER'):match('(%d+),(%d+)')
  vim.api.nvim_win_set_cursor(0, { tonumber(line), tonumber(col) })
  local responses = vim.lsp.buf_request_sync(0, 'textDocument/hover', vim.lsp.util.make_position_params(), 20000) or {}
  local hover = vim.NIL
  for _, r in pairs(responses) do
    if r.result and r.result.contents then hover = r.result.contents.value or r.result.contents end
  end
  finish({ waited = seen, diagnostics = diagnostics, hover = hover })
end)
if not ok then finish({ error = tostring(err) }) end
