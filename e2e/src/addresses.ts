// Every address of the e2e topology, all from 198.18.0.0/15 (reserved for network testing).

/** The LAN every VM, the Consul server and the SLB emulator sit on. */
export const LAN_PREFIX = 24;
export const CONSUL_SERVER_ADDR = '198.18.0.2';
export const VM1_ADDR = '198.18.0.11';
export const VM2_ADDR = '198.18.0.12';
/** The emulator's LAN address: the fixed probe source, as 168.63.129.16 is in Azure. */
export const PROBE_SOURCE_ADDR = '198.18.0.16';
/** The client's own link to the emulator (the "internet side" of the load balancer). */
export const SLB_CLIENT_SIDE_ADDR = '198.18.1.1';
export const CLIENT_ADDR = '198.18.1.100';
/** The load balancer frontend (Floating IP: delivered to the backend unchanged). */
export const VIP = '198.18.100.10';
export const WEB_PORT = 80;
