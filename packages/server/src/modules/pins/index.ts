export { createPins, type Pins, type PinsDeps } from './actions.ts';
export { pinsRoutes } from './routes.ts';
