/**
 * HTTP-date (RFC 9110 §5.6.7), parsed strictly: only IMF-fixdate and the two obsolete
 * forms a recipient must still accept (rfc850-date, asctime-date).
 * https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
 *
 * `Date.parse` is not used because it accepts almost anything ("UTC" for "GMT", missing
 * commas, any spacing, lowercase names, 1-digit hours), and RFC 9111 §5.3 needs such an
 * `Expires` to count as invalid, i.e. already expired, instead of as a far-future date.
 */

/** Day names are case-sensitive in the grammar (`%s"Mon"`), so no case folding anywhere. */
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const DAY_NAMES_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

const DAY = '(Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const DAY_LONG = '(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'

/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850 = new RegExp(`^${DAY_LONG}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
/** `Sun Nov  6 08:49:37 1994`: the day is two digits or a space and one digit. */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} (\\d{2}| \\d) ${TIME} (\\d{4})$`)

/** How far ahead an rfc850 two-digit year may point before it is read as last century's (§5.6.7). */
const RFC850_FUTURE_LIMIT_YEARS = 50

interface Fields {
  weekday: number
  day: number
  /** 0-11 */
  month: number
  year: number
  hour: number
  minute: number
  second: number
}

/**
 * Epoch milliseconds of an HTTP-date, or undefined when `value` is not exactly one of the
 * three formats, names a day or time that does not exist, or a weekday that does not match
 * the date. `now` (epoch ms) resolves the two-digit year of rfc850-date.
 */
export function parseHttpDate(value: string, now: number = Date.now()): number | undefined {
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) {
    const [, wd = '', day = '', mon = '', year = '', h = '', min = '', s = ''] = m
    return toEpoch(fields(DAY_NAMES.indexOf(wd), day, mon, Number(year), h, min, s))
  }
  m = ASCTIME.exec(value)
  if (m !== null) {
    const [, wd = '', mon = '', day = '', h = '', min = '', s = '', year = ''] = m
    return toEpoch(fields(DAY_NAMES.indexOf(wd), day.trim(), mon, Number(year), h, min, s))
  }
  m = RFC850.exec(value)
  if (m !== null) {
    const [, wd = '', day = '', mon = '', yy = '', h = '', min = '', s = ''] = m
    const f = fields(DAY_NAMES_LONG.indexOf(wd), day, mon, 0, h, min, s)
    return toEpoch({ ...f, year: rfc850Year(Number(yy), f, now) })
  }
  return undefined
}

function fields(
  weekday: number,
  day: string,
  month: string,
  year: number,
  hour: string,
  minute: string,
  second: string
): Fields {
  return {
    weekday,
    day: Number(day),
    month: MONTHS.indexOf(month),
    year,
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second)
  }
}

/**
 * §5.6.7: a two-digit year that "appears to be more than 50 years in the future" is the most
 * recent past year with those digits. So the year is the latest one ending in `yy` whose
 * timestamp is no more than 50 years after `now`.
 */
function rfc850Year(yy: number, f: Fields, now: number): number {
  const limit = new Date(now)
  limit.setUTCFullYear(limit.getUTCFullYear() + RFC850_FUTURE_LIMIT_YEARS)
  let year = Math.floor(new Date(now).getUTCFullYear() / 100) * 100 + yy
  // Compared as whole timestamps, not years: "appears to be more than 50 years in the future".
  // An impossible day (31-Feb) only rolls over here; toEpoch rejects it afterwards.
  const at = (y: number): number => utc({ ...f, year: y })
  if (at(year) > limit.getTime()) year -= 100
  else if (at(year + 100) <= limit.getTime()) year += 100
  return year
}

function toEpoch(f: Fields): number | undefined {
  if (f.month < 0 || f.weekday < 0) return undefined
  // Second 60 is a leap second (RFC 5322 §3.3, which IMF-fixdate follows); it lands on the next minute's 00.
  if (f.hour > 23 || f.minute > 59 || f.second > 60) return undefined
  if (f.day < 1 || f.day > daysInMonth(f.year, f.month)) return undefined
  // The weekday of the calendar day named, before a leap second can roll it over.
  if (new Date(utc({ ...f, hour: 0, minute: 0, second: 0 })).getUTCDay() !== f.weekday) return undefined
  return utc(f)
}

/** `Date.UTC` maps years 0-99 to 1900-1999; a 4-digit year like 0099 must stay itself. */
function utc(f: Fields): number {
  const d = new Date(0)
  d.setUTCFullYear(f.year, f.month, f.day)
  d.setUTCHours(f.hour, f.minute, f.second, 0)
  return d.getTime()
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month] ?? 0
}
