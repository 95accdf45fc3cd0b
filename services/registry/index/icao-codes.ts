/**
 * Issuing-state codes accepted by the registry (ICAO Doc 9303 Part 3, §5 "Codes for nationality, place of birth,
 * location of issuing State/authority and other purposes").
 *
 * What is accepted, and why:
 * - the 249 ISO 3166-1 alpha-3 codes (copied from the Debian iso-codes 4.15 package), because Doc 9303 uses them for
 *   every State;
 * - `D`: Germany's own code in travel documents (`D<<` in the MRZ). `DEU` is also accepted and canonicalised to
 *   `D` so one German document hashes to one key whichever code the reporter used;
 * - the ICAO specials: British nationality categories `GBD GBN GBO GBP GBS`; United Nations `UNO UNA UNK`;
 *   stateless and refugee documents `XXA XXB XXC XXX`; the European Union `EUE`; Kosovo `RKS`;
 * - every `X??` code: ISO 3166-1 leaves `XAA`–`XZZ` user-assigned, and Doc 9303 draws its organisation codes
 *   from that range (`XBA XIM XCC XCO XEC XPO XOM XES XMP`, plus `XXA`–`XXX`). The demo's fictional States
 *   (`XAA`, `XBB`, `XCC`, …) live there too, so the whole range is admitted rather than a fixed demo list.
 *
 * @module
 */

/** ISO 3166-1 alpha-3 codes (249, iso-codes 4.15). */
const ISO_3166_ALPHA3 = `
  ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN
  BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN
  CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU
  DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR
  GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV
  HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM
  KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA
  MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM
  NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL
  PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE
  SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK
  TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB
  VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
`;

/** ICAO Doc 9303 codes that are not ISO 3166-1 alpha-3 (excluding the open `X??` range). */
export const ICAO_SPECIAL_CODES: readonly string[] = ['D', 'GBD', 'GBN', 'GBO', 'GBP', 'GBS', 'UNO', 'UNA', 'UNK', 'EUE', 'RKS'];

/** Codes normalised to another spelling before hashing (one document, one key). */
export const ICAO_CODE_ALIASES: Readonly<Record<string, string>> = { DEU: 'D' };

/** Every fixed code the registry accepts (ISO 3166-1 alpha-3 plus {@link ICAO_SPECIAL_CODES}). */
export const ICAO_FIXED_CODES: ReadonlySet<string> = new Set([...ISO_3166_ALPHA3.split(/\s+/).filter(Boolean), ...ICAO_SPECIAL_CODES]);

/** True when `code` (already uppercased, `<` fillers removed) is an accepted issuing-state code. */
export function isIcaoCode(code: string): boolean {
  return ICAO_FIXED_CODES.has(code) || /^X[A-Z]{2}$/.test(code);
}
