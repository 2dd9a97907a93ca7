import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright'

/** Debian's Chromium; Playwright's own browser download cannot work on these machines. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Flags measured to work here (shared/CHROMIUM.md). Without the background-networking
 * ones Chromium keeps trying to reach the internet.
 */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

/** Features we turn off: real host IPs in ICE candidates instead of mDNS `.local` names. */
const EXTRA_DISABLED_FEATURES = ['WebRtcHideLocalIpsWithMdns']

/**
 * Chromium obeys only the LAST `--disable-features` switch and Playwright passes its
 * own, so a plain extra switch would silently drop Playwright's list. This wrapper
 * merges every `--disable-features` value into one switch.
 */
async function wrapper(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pcdn-chromium-'))
  const file = join(dir, 'chromium')
  await writeFile(
    file,
    `#!/usr/bin/env bash
features="${EXTRA_DISABLED_FEATURES.join(',')}"
args=()
for a in "$@"; do
  case "$a" in
    --disable-features=*) features="$features,\${a#--disable-features=}" ;;
    *) args+=("$a") ;;
  esac
done
exec "${CHROMIUM_PATH}" "\${args[@]}" "--disable-features=$features"
`
  )
  await chmod(file, 0o755)
  return file
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install Debian's chromium (apt-get install -y chromium; .ci/run does it) or set CHROMIUM_PATH.`
    )
  }
  return await chromium.launch({ executablePath: await wrapper(), headless: true, args: FLAGS })
}
