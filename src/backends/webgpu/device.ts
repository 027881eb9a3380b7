/// <reference types="@webgpu/types" />
/**
 * WebGPU device acquisition. Browsers: `navigator.gpu`. Node: the optional peer dependency `webgpu`
 * (Dawn), loaded by dynamic import; when Dawn's default backends give no adapter (no Vulkan driver),
 * Dawn's OpenGL ES backend through EGL is tried with the compatibility feature level (on a machine
 * without a GPU that is Mesa's llvmpipe software rasterizer: correct, slow). No adapter is not an
 * error here: the caller gets the reason and falls back.
 */

/** What the kernels need from the device (requested up to the adapter's limits). */
export const NEEDED_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 16,
  maxComputeWorkgroupStorageSize: 9 * 1024,
  maxStorageBuffersPerShaderStage: 2,
} as const;

export type GpuAcquisition =
  | { readonly device: GPUDevice; readonly description: string }
  | { readonly device?: undefined; readonly reason: string };

const HINT = 'on Linux without a GPU, Dawn can use Mesa\'s software rasterizer: apt-get install libegl1 libegl-mesa0 libegl-dev libgl1-mesa-dri, and set EGL_PLATFORM=surfaceless';

/** Dawn instances stay referenced for the process's lifetime (a collected instance loses its devices). */
const instances: GPU[] = [];
let shared: Promise<GpuAcquisition> | undefined;

async function findAdapter(): Promise<{ adapter: GPUAdapter | null; reason?: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const adapter = (await nav.gpu.requestAdapter()) ?? (await nav.gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions));
    return { adapter, reason: adapter ? undefined : 'navigator.gpu gave no adapter' };
  }
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return { adapter: null, reason: 'this environment has no navigator.gpu' };
  let create: (flags: string[]) => GPU;
  try {
    // A computed specifier: bundlers for the browser must not try to resolve this Node-only package.
    const specifier = 'webgpu';
    ({ create } = (await import(/* @vite-ignore */ specifier)) as { create: (flags: string[]) => GPU });
  } catch (e) {
    return { adapter: null, reason: `the optional peer dependency "webgpu" could not be loaded (${(e as Error).message})` };
  }
  const gpu = create([]);
  instances.push(gpu);
  let adapter = await gpu.requestAdapter();
  if (!adapter) {
    // EGL picks its platform from the environment when Dawn initializes the GLES backend.
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const gles = create(['backend=opengles']);
    instances.push(gles);
    adapter = await gles.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  }
  return { adapter, reason: adapter ? undefined : `Dawn found no adapter (${HINT})` };
}

async function acquire(): Promise<GpuAcquisition> {
  const { adapter, reason } = await findAdapter();
  if (!adapter) return { reason: reason ?? 'no WebGPU adapter' };
  const lim = adapter.limits as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(NEEDED_LIMITS)) {
    if (lim[k] < v) return { reason: `the WebGPU adapter offers ${k} = ${lim[k]}, the kernels need ${v}` };
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of [...Object.keys(NEEDED_LIMITS), 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension']) {
    requiredLimits[k] = lim[k];
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (e) {
    return { reason: `requestDevice failed: ${(e as Error).message}` };
  }
  const info = adapter.info;
  const description = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
  device.lost.then(() => {
    shared = undefined;
  });
  return { device, description };
}

/** The process's WebGPU device (acquired once and shared; acquired again after a loss). */
export function acquireDevice(): Promise<GpuAcquisition> {
  shared ??= acquire().catch((e: Error) => ({ reason: `WebGPU initialization failed: ${e.message}` }));
  return shared;
}

/**
 * Use this device for the webgpu backend (e.g. one a model already runs on, so buffers can be shared),
 * `null` to make the backend unavailable (it then falls back), or `undefined` to acquire one again.
 */
export function setWebGpuDevice(device: GPUDevice | null | undefined, description = 'device set by setWebGpuDevice'): void {
  if (device === undefined) shared = undefined;
  else if (device === null) shared = Promise.resolve({ reason: 'the webgpu backend was turned off by setWebGpuDevice(null)' });
  else shared = Promise.resolve({ device, description });
}
