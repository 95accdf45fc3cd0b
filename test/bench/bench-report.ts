/**
 * The directed message the exchange, cores and acks benchmarks send: an IntelligenceReport from a border police to
 * the centre, the same body in each so their figures compare.
 */
export const BENCH_SENDER = 'xa-border-police';
export const BENCH_RECEIVER = 'mac-centre';
export const BENCH_TYPE = 'IntelligenceReport';
export const BENCH_BODY = {
  summary: 'Fishing vessel intercepted 40 nm south of Port Xandria with 61 persons on board; organisers paid in advance.',
  route: { origin: 'XCC', transit: ['XBB'], destination: 'XAA', description: 'Corvenia to Xandria via the Bellmark coast' },
  modusOperandi: ['overcrowded fishing vessel', 'satellite phone to coordinator', 'fraudulent passports issued in advance'],
  vessel: { name: 'STELLA MARIS II', imoNumber: 'IMO9123456', flagState: 'XBB' },
  migrantsCount: 61,
  assessment: 'Same organiser network as the October interceptions.',
};
