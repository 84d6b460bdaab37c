declare module 'autocannon' {
  interface Result { requests: { total: number; average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }
  export default function autocannon(opts: { url: string; connections: number; duration: number }): Promise<Result>;
}
