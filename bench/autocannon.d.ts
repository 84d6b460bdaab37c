declare module 'autocannon' {
  interface Result {
    requests: { total: number; average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  }
  interface Request {
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }
  export default function autocannon(opts: { url: string; connections: number; duration: number; requests?: Request[]; headers?: Record<string, string> }): Promise<Result>;
}
