/** File sources: streaming parsers of the real data sets and of mapped CSVs, and their meter registries. */
export { AUSGRID_TIME_ZONE, ausgridMeterId, readAusgrid } from './ausgrid.ts';
export { type CsvColumnMapping, readCsv } from './generic-csv.ts';
export { lclMeterId, readLcl } from './lcl.ts';
export { opsdChannelColumns, readOpsd } from './opsd.ts';
export { ausgridMeters, lclMeters, opsdMeters, RATED_KW } from './registries.ts';
export type { SourceItem, SourceReject } from './types.ts';
