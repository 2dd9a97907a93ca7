/**
 * nginx `proxy_cache` in front of the same origin, configured in a temp dir on a
 * loopback port. Installs Debian's nginx-light with apt-get when nginx is missing.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']

export function findOrInstallNginx(): string {
  const found = NGINX_PATHS.find(p => existsSync(p))
  if (found !== undefined) return found
  process.stderr.write('nginx not found: installing nginx-light with apt-get\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], { stdio: 'inherit', env })
  const installed = NGINX_PATHS.find(p => existsSync(p))
  if (installed === undefined) throw new Error('nginx-light installed but no nginx binary found')
  return installed
}

export function nginxVersion(bin: string): string {
  // nginx -v prints to stderr.
  try {
    const r = spawnSync(bin, ['-v'], { encoding: 'utf8' })
    return `${r.stdout}${r.stderr}`.trim()
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? '').trim()
  }
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export interface NginxInit {
  bin: string
  dir: string
  originPort: number
  workers: number
}

export interface Nginx {
  child: ChildProcess
  port: number
  config: string
}

export async function startNginx(init: NginxInit): Promise<Nginx> {
  const port = await freePort()
  // Workers drop root privileges: they must be able to reach the temp dir; the master
  // creates the cache and temp subdirectories and hands them to the worker user.
  await chmod(init.dir, 0o755)
  const d = init.dir
  const config = `# written by bench/edge: nginx proxy_cache on loopback
worker_processes ${init.workers};
daemon off;
master_process on;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path ${d}/client_body;
  proxy_temp_path ${d}/proxy_temp;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  proxy_cache_path ${d}/cache levels=1:2 keys_zone=bench:10m max_size=1g inactive=60m use_temp_path=off;
  upstream origin { server 127.0.0.1:${init.originPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_lock on;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`
  const file = join(d, 'nginx.conf')
  await writeFile(file, config)
  const child = spawn(init.bin, ['-p', d, '-c', file, '-e', join(d, 'error.log')], {
    stdio: ['ignore', 'inherit', 'inherit']
  })
  // Bounded wait for the port to answer.
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/_nginx_probe`)
      return { child, port, config }
    } catch {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  child.kill('SIGKILL')
  throw new Error('nginx did not start listening in 10 s')
}
