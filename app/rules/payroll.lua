-- payroll.lua: the shipped pay rules of the emergency pay run (docs/pay-rules.md).
--
-- pay(e, run) is called once per employment with its data and the run's constants (see
-- docs/pay-rules.md for every field) and returns the employment's pay lines. Money is
-- integer öre throughout; dates are ISO strings, compared as strings. The rules are a pure
-- function of their input: the same snapshot, registrations and rules give the same lines,
-- byte for byte.
--
-- Line codes: GROSS_* add to gross pay, TAX is tax withheld, DED_* are deductions after
-- tax, NOTE (amount 0) explains a change. net = gross - tax - deductions.
--
-- Rounding: proration rounds half up to whole öre, once per line; tax is whole SEK as
-- Skatteverket's tables give it (table lookup) or rounded down to whole SEK (percentages).
-- Assumptions to confirm against the customer's collective agreement (AB): proration by
-- calendar days of the month, for hires, leavers and unpaid leave alike; one-off payments
-- taxed with the employment's table together with the salary (recalculate) or at 30 %
-- (same-as-last), as the engångsbelopp table is not in the snapshot.

local ONE_OFF_TAX_PCT = 30

-- a * b / c rounded half up, for non-negative integers.
local function muldiv(a, b, c)
  return (a * b + c // 2) // c
end

-- Day of the month for a date, clamped to the period: before -> 0, after -> days + 1.
local function dom(run, date)
  if date == nil then return run.days_in_month + 1 end
  if date < run.first_day then return 0 end
  if date > run.last_day then return run.days_in_month + 1 end
  return tonumber(date:sub(9, 10))
end

-- The value of a dated history ({from=..., value}) on a day, given a key.
local function value_on(history, run, day, key)
  local v = history[1][key]
  for i = 2, #history do
    if dom(run, history[i].from) <= day then v = history[i][key] end
  end
  return v
end

-- First and last employed day of the month, or nil if not employed in it.
local function employed_days(e, run)
  local first = math.max(1, dom(run, e.start_date))
  local last = math.min(run.days_in_month, dom(run, e.end_date))
  if e.start_date > run.last_day or (e.end_date and e.end_date < run.first_day) then
    return nil
  end
  return first, last
end

-- Unpaid leave on a day, in hundredths of a percent of full time (0-10000).
local function leave_on(e, run, day)
  local l = 0
  for _, lv in ipairs(e.leaves or {}) do
    if dom(run, lv.from) <= day and day <= dom(run, lv.to) then l = l + lv.hundredths end
  end
  return math.min(l, 10000)
end

-- The share of the month paid, as a numerator over 10000 * days_in_month: employed days
-- weighted by (1 - leave). Also returns the employed and leave day counts for notes.
local function paid_share(e, run, first, last)
  if e.leaves == nil or #e.leaves == 0 then
    return (last - first + 1) * 10000, last - first + 1, 0
  end
  local num, leave_days = 0, 0
  for d = first, last do
    local l = leave_on(e, run, d)
    if l > 0 then leave_days = leave_days + 1 end
    num = num + (10000 - l)
  end
  return num, last - first + 1, leave_days
end

local function note(lines, text)
  lines[#lines + 1] = {code = "NOTE", amount_ore = 0, text = text}
end

local function describe_days(lines, e, run, employed, leave_days)
  if employed < run.days_in_month then
    note(lines, string.format("employed %d of %d days (start %s, end %s)", employed,
      run.days_in_month, e.start_date, e.end_date or "-"))
  end
  if leave_days > 0 then
    note(lines, string.format("unpaid leave on %d days", leave_days))
  end
end

-- Monthly gross from salary and extent histories, prorated by calendar days with leave.
local function monthly_gross(e, run, first, last)
  local simple = #e.salary == 1 and #e.extent == 1 and #(e.leaves or {}) == 0
      and first == 1 and last == run.days_in_month
  if simple then
    return muldiv(e.salary[1].ore, e.extent[1].hundredths, 10000)
  end
  local num = 0
  for d = first, last do
    local s = value_on(e.salary, run, d, "ore")
    local x = value_on(e.extent, run, d, "hundredths")
    local eff = x * (10000 - leave_on(e, run, d)) // 10000
    num = num + s * eff
  end
  return (num + (10000 * run.days_in_month) // 2) // (10000 * run.days_in_month)
end

-- The text of a TAX line. Memoised: the same few dozen strings serve every employment
-- (a pure function of its argument, so no state leaks between employments).
local tax_labels = {}
local function tax_label(t)
  if t.fixed_hundredths then return "tax, fixed percentage" end
  local key = t.table * 10 + t.column
  local s = tax_labels[key]
  if s == nil then
    s = string.format("tax table %d column %d", t.table, t.column)
    tax_labels[key] = s
  end
  return s
end

local function tax_for(e, gross)
  if gross <= 0 then return 0 end
  if e.tax.fixed_hundredths then
    return (gross // 100) * e.tax.fixed_hundredths // 10000 * 100
  end
  local t, err = tax(e.tax.table, e.tax.column, gross // 100)
  if t == nil then error(err) end
  return t * 100
end

local function one_offs(e, lines, policy_tax)
  local extra_gross = 0
  for _, o in ipairs(e.one_offs or {}) do
    if o.amount_ore > 0 then
      lines[#lines + 1] = {code = "GROSS_ONEOFF", amount_ore = o.amount_ore,
        text = o.pay_code .. ": " .. o.reason}
      extra_gross = extra_gross + o.amount_ore
    else
      lines[#lines + 1] = {code = "DED_ONEOFF", amount_ore = -o.amount_ore,
        text = o.pay_code .. ": " .. o.reason}
    end
  end
  if extra_gross > 0 and policy_tax then
    local t = (extra_gross // 100) * ONE_OFF_TAX_PCT // 100 * 100
    lines[#lines + 1] = {code = "TAX", amount_ore = t,
      text = string.format("tax %d %% on one-off payments", ONE_OFF_TAX_PCT)}
  end
  return extra_gross
end

-- recalculate: gross from salary (or rate) and extent, tax from the table or fixed %.
local function recalculate(e, run, lines, why)
  local first, last = employed_days(e, run)
  if first == nil then
    note(lines, "not employed in " .. run.period)
    return lines
  end
  if why then note(lines, why) end
  local gross = 0
  if e.pay_type == "monthly" then
    gross = monthly_gross(e, run, first, last)
    lines[#lines + 1] = {code = "GROSS_SALARY", amount_ore = gross,
      text = "monthly salary, extent and days"}
  elseif e.last then
    -- No time reports reach the appliance: repeat last run's gross, prorated by days.
    local num = paid_share(e, run, first, last)
    gross = muldiv(e.last.gross_ore, num, 10000 * run.days_in_month)
    lines[#lines + 1] = {code = "GROSS_HOURLY", amount_ore = gross,
      text = "hourly: last run's gross (hours not reported during the outage)"}
  else
    note(lines, "hourly without a last run: nothing to repeat, not paid")
    return lines
  end
  local num, employed, leave_days = paid_share(e, run, first, last)
  describe_days(lines, e, run, employed, leave_days)
  local extra = one_offs(e, lines, false)
  lines[#lines + 1] = {code = "TAX", amount_ore = tax_for(e, gross + extra),
    text = tax_label(e.tax)}
  -- Standing deductions (union fees, garnishments, benefits) reach the appliance only as
  -- the last run's total: carry them, prorated as same-as-last does, rather than drop them.
  if e.last and e.last.deductions_ore > 0 then
    lines[#lines + 1] = {code = "DED_LAST",
      amount_ore = muldiv(e.last.deductions_ore, num, 10000 * run.days_in_month),
      text = "deductions as last pay run"}
  end
  return lines
end

-- same-as-last: last run's lines again, prorated for days employed and unpaid leave;
-- an employment whose salary, extent or tax changed, or a new hire, is recalculated.
local function same_as_last(e, run, lines)
  if e.hired then return recalculate(e, run, lines, "new hire: computed by the rules") end
  if e.changed then
    return recalculate(e, run, lines, "salary, extent or tax changed: recalculated")
  end
  local first, last = employed_days(e, run)
  if first == nil then
    note(lines, "not employed in " .. run.period .. " (last day " .. (e.end_date or "?") .. ")")
    return lines
  end
  if e.last == nil then
    if e.pay_type == "monthly" then
      return recalculate(e, run, lines, "not in the last pay run: recalculated")
    end
    note(lines, "hourly, not in the last pay run: not paid")
    return lines
  end
  local num, employed, leave_days = paid_share(e, run, first, last)
  local den = 10000 * run.days_in_month
  lines[#lines + 1] = {code = "GROSS_LAST", amount_ore = muldiv(e.last.gross_ore, num, den),
    text = "as last pay run"}
  lines[#lines + 1] = {code = "TAX", amount_ore = muldiv(e.last.tax_ore, num, den),
    text = "tax as last pay run"}
  if e.last.deductions_ore > 0 then
    lines[#lines + 1] = {code = "DED_LAST", amount_ore = muldiv(e.last.deductions_ore, num, den),
      text = "deductions as last pay run"}
  end
  describe_days(lines, e, run, employed, leave_days)
  one_offs(e, lines, true)
  return lines
end

function pay(e, run)
  local lines = {}
  if run.policy == "recalculate" then
    return recalculate(e, run, lines, nil)
  elseif run.policy == "same-as-last" then
    return same_as_last(e, run, lines)
  end
  error("unknown policy " .. tostring(run.policy))
end
